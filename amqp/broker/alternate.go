package broker

import (
	"errors"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/exchange"
)

// checkNewExchangeArgs validates the arguments of an exchange about to be
// created; a redeclaration only checks equivalence.
//
// rabbitmq exchange.declare: alternate-exchange must be a longstr, else
// 406 "invalid type 'T' for arg 'alternate-exchange' in exchange 'x' in
// vhost 'v'". The alternate exchange need not exist. Then the exchange
// type validates: the delayed-message plugin's x-delayed-type must name
// an exchange type (see exchange.DelayedType).
func (v *Vhost) checkNewExchangeArgs(name string, kind exchange.Kind, args map[string]any) error {
	if ae, ok := args["alternate-exchange"]; ok {
		if _, ok := ae.(string); !ok {
			return amqp.Errorf(amqp.PreconditionFailed, "invalid type '%s' for arg 'alternate-exchange' in exchange '%s' in vhost '%s'",
				amqp.FieldTypeName(ae), name, v.name)
		}
	}
	if kind == exchange.Delayed {
		_, err := exchange.DelayedType(args)
		switch {
		case errors.Is(err, exchange.ErrUnknownKind):
			return amqp.Errorf(amqp.CommandInvalid, "unknown exchange type '%s'", args["x-delayed-type"])
		case err != nil:
			return amqp.Errorf(amqp.PreconditionFailed, "%v", err)
		}
	}
	return nil
}
