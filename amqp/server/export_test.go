package server

// BudgetUsed is what the memory budget counts now (0 without a store),
// for the tests of package server_test.
func (s *Server) BudgetUsed() int64 {
	return s.core.BudgetUsed()
}
