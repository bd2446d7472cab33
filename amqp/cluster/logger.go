package cluster

import (
	"fmt"

	"go.uber.org/zap"
)

// raftLogger is etcd raft's Logger over zap (raft's default logger is
// package-level and writes to stderr). Raft's info lines (elections,
// terms) are Warren's debug lines.
type raftLogger struct{ s *zap.SugaredLogger }

func (l raftLogger) Debug(v ...any)              { l.s.Debug(v...) }
func (l raftLogger) Debugf(f string, v ...any)   { l.s.Debugf(f, v...) }
func (l raftLogger) Info(v ...any)               { l.s.Debug(v...) }
func (l raftLogger) Infof(f string, v ...any)    { l.s.Debugf(f, v...) }
func (l raftLogger) Warning(v ...any)            { l.s.Warn(v...) }
func (l raftLogger) Warningf(f string, v ...any) { l.s.Warnf(f, v...) }
func (l raftLogger) Error(v ...any)              { l.s.Error(v...) }
func (l raftLogger) Errorf(f string, v ...any)   { l.s.Errorf(f, v...) }
func (l raftLogger) Fatal(v ...any)              { l.Panic(v...) }
func (l raftLogger) Fatalf(f string, v ...any)   { l.Panicf(f, v...) }
func (l raftLogger) Panic(v ...any)              { l.s.Error(v...); panic(fmt.Sprint(v...)) }
func (l raftLogger) Panicf(f string, v ...any)   { l.s.Errorf(f, v...); panic(fmt.Sprintf(f, v...)) }
