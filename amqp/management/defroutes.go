package management

import "net/http"

// defRoutes registers the definition endpoints (users, permissions,
// policies, parameters, limits, definitions) with RabbitMQ 3.10's gates:
// administrator ("Not administrator user") for users, permissions,
// changing operator policies and vhost limits, and definitions;
// administrator ("User not authorised to access object") for one global
// parameter; policymaker for listing global parameters, for reading one
// policy and changing policies, and for parameters, in the vhosts the
// user may use; management for listing policies, operator policies and
// limits of those vhosts, and user limits ([] to non-administrators).
// conformance/api TestPermissionMatrixHTTP holds RabbitMQ 3.10's answers.
func (s *Server) defRoutes(h func(string, level, http.HandlerFunc)) {
	mg, adm := levelManagement, levelAdministrator
	// rabbitmq: these answer "User not authorised to access object".
	pm := func(pattern string, f http.HandlerFunc) { h(pattern, mg, gate(isPolicymaker, f)) }
	ad := func(pattern string, f http.HandlerFunc) { h(pattern, mg, gate(isAdmin, f)) }

	h("GET /api/users", adm, s.getUsers)
	h("GET /api/users/without-permissions", adm, s.getUsersWithoutPermissions)
	h("POST /api/users/bulk-delete", adm, s.bulkDeleteUsers)
	h("GET /api/users/{user}", adm, s.getUser)
	h("PUT /api/users/{user}", adm, s.putUser)
	h("DELETE /api/users/{user}", adm, s.deleteUser)
	h("GET /api/users/{user}/permissions", adm, s.getUserPermissions)
	h("GET /api/users/{user}/topic-permissions", adm, s.getUserTopicPermissions)
	h("GET /api/user-limits", mg, s.getUserLimits) // rabbitmq 3.10: [] to non-administrators
	h("GET /api/user-limits/{user}", mg, s.getUserLimits)
	h("PUT /api/user-limits/{user}/{name}", adm, s.putUserLimit)
	h("DELETE /api/user-limits/{user}/{name}", adm, s.deleteUserLimit)

	h("GET /api/permissions", adm, s.getPermissions)
	h("GET /api/vhosts/{vhost}/permissions", adm, s.getPermissions)
	h("GET /api/permissions/{vhost}/{user}", adm, s.getPermission)
	h("PUT /api/permissions/{vhost}/{user}", adm, s.putPermission)
	h("DELETE /api/permissions/{vhost}/{user}", adm, s.deletePermission)
	h("GET /api/topic-permissions", adm, s.getTopicPermissions)
	h("GET /api/vhosts/{vhost}/topic-permissions", adm, s.getTopicPermissions)
	h("GET /api/topic-permissions/{vhost}/{user}", adm, s.getTopicPermission)
	h("PUT /api/topic-permissions/{vhost}/{user}", adm, s.putTopicPermission)
	h("DELETE /api/topic-permissions/{vhost}/{user}", adm, s.deleteTopicPermission)

	h("GET /api/policies", mg, s.getPolicies(false))
	h("GET /api/policies/{vhost}", mg, s.getPolicies(false))
	pm("GET /api/policies/{vhost}/{name}", s.getPolicy(false))
	pm("PUT /api/policies/{vhost}/{name}", s.putPolicy(false))
	pm("DELETE /api/policies/{vhost}/{name}", s.deletePolicy(false))
	h("GET /api/operator-policies", mg, s.getPolicies(true))
	h("GET /api/operator-policies/{vhost}", mg, s.getPolicies(true))
	h("GET /api/operator-policies/{vhost}/{name}", adm, s.getPolicy(true))
	h("PUT /api/operator-policies/{vhost}/{name}", adm, s.putPolicy(true))
	h("DELETE /api/operator-policies/{vhost}/{name}", adm, s.deletePolicy(true))

	pm("GET /api/parameters", s.getParameters)
	pm("GET /api/parameters/{component}", s.getParameters)
	pm("GET /api/parameters/{component}/{vhost}", s.getParameters)
	pm("GET /api/parameters/{component}/{vhost}/{name}", s.getParameter)
	pm("PUT /api/parameters/{component}/{vhost}/{name}", s.putParameter)
	pm("DELETE /api/parameters/{component}/{vhost}/{name}", s.deleteParameter)
	pm("GET /api/global-parameters", s.getGlobalParameters) // rabbitmq 3.10: policymakers list them
	ad("GET /api/global-parameters/{name}", s.getGlobalParameter)
	ad("PUT /api/global-parameters/{name}", s.putGlobalParameter)
	ad("DELETE /api/global-parameters/{name}", s.deleteGlobalParameter)

	h("GET /api/vhost-limits", mg, s.getVhostLimits)
	h("GET /api/vhost-limits/{vhost}", mg, s.getVhostLimits)
	h("PUT /api/vhost-limits/{vhost}/{name}", adm, s.putVhostLimit)
	h("DELETE /api/vhost-limits/{vhost}/{name}", adm, s.deleteVhostLimit)

	h("GET /api/definitions", adm, s.getDefinitions)
	h("POST /api/definitions", adm, s.postDefinitions)
	h("GET /api/definitions/{vhost}", adm, s.getVhostDefinitions)
	h("POST /api/definitions/{vhost}", adm, s.postDefinitions)
}
