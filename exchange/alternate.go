package exchange

// Alternate returns the name of the exchange's alternate exchange (its
// alternate-exchange argument), or "" if it has none.
func (x *Exchange) Alternate() string {
	s, _ := x.Args["alternate-exchange"].(string)
	return s
}
