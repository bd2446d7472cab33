package server

import (
	"github.com/warrenmq/warren/amqp"
)

// checkNewExchangeArgs validates the arguments of an exchange about to be
// created; a redeclaration only checks equivalence.
//
// rabbitmq exchange.declare: alternate-exchange must be a longstr, else
// 406 "invalid type 'T' for arg 'alternate-exchange' in exchange 'x' in
// vhost 'v'". The alternate exchange need not exist.
func (v *vhost) checkNewExchangeArgs(name string, args map[string]any) error {
	if ae, ok := args["alternate-exchange"]; ok {
		if _, ok := ae.(string); !ok {
			return amqp.Errorf(amqp.PreconditionFailed, "invalid type '%s' for arg 'alternate-exchange' in exchange '%s' in vhost '%s'",
				amqp.FieldTypeName(ae), name, v.name)
		}
	}
	return nil
}
