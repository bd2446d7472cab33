go test fuzz v1
[]byte("\x00<\x00P+H׆\xa7ⶕ\x00")
