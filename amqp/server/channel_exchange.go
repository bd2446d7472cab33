package server

import (
	"errors"

	"github.com/warrenmq/warren/amqp"
	"github.com/warrenmq/warren/amqp/broker"
	"github.com/warrenmq/warren/exchange"
)

func (ch *channel) exchangeDeclare(m *amqp.ExchangeDeclare) error {
	v := ch.c.vhost
	if m.Passive {
		if v.exchange(m.Exchange) == nil {
			return v.errNoExchange(m.Exchange)
		}
	} else {
		kind, err := exchange.ParseKind(m.Type)
		if err != nil {
			if errors.Is(err, exchange.ErrUnknownKind) {
				return amqp.Errorf(amqp.CommandInvalid, "unknown exchange type '%s'", m.Type)
			}
			return err
		}
		if m.Exchange == "" {
			return amqp.Errorf(amqp.AccessRefused, "operation not permitted on the default exchange")
		}
		if err := ch.permitted(broker.ResourceExchange, m.Exchange, broker.Configure); err != nil {
			return err
		}
		if ae, ok := m.Arguments["alternate-exchange"].(string); ok {
			// rabbitmq: what the exchange cannot route is written to its AE.
			if err := ch.permittedAll(onExchange(ae, broker.Write), onExchange(m.Exchange, broker.Read)); err != nil {
				return err
			}
		}
		if err := v.declareExchange(m.Exchange, kind, m.Durable, m.AutoDelete, m.Internal, m.Arguments); err != nil {
			return err
		}
	}
	if !m.NoWait {
		ch.send(&amqp.ExchangeDeclareOk{})
	}
	return nil
}

func (ch *channel) exchangeDelete(m *amqp.ExchangeDelete) error {
	if m.Exchange == "" {
		return amqp.Errorf(amqp.AccessRefused, "operation not permitted on the default exchange")
	}
	if broker.ReservedName(m.Exchange) {
		return amqp.Errorf(amqp.AccessRefused, "deletion of system exchange '%s' in vhost '%s' not allowed", m.Exchange, ch.c.vhost.name)
	}
	if err := ch.permitted(broker.ResourceExchange, m.Exchange, broker.Configure); err != nil {
		return err
	}
	if err := ch.c.vhost.deleteExchange(m.Exchange, m.IfUnused); err != nil {
		return err
	}
	if !m.NoWait {
		ch.send(&amqp.ExchangeDeleteOk{})
	}
	return nil
}

func (ch *channel) exchangeBind(m *amqp.ExchangeBind) error {
	if err := ch.permittedAll(onExchange(m.Destination, broker.Write), onExchange(m.Source, broker.Read)); err != nil {
		return err
	}
	if err := ch.c.vhost.bind(m.Source, exchange.Destination{Exchange: true, Name: m.Destination}, m.RoutingKey, m.Arguments); err != nil {
		return err
	}
	if !m.NoWait {
		ch.send(&amqp.ExchangeBindOk{})
	}
	return nil
}

func (ch *channel) exchangeUnbind(m *amqp.ExchangeUnbind) error {
	if err := ch.permittedAll(onExchange(m.Destination, broker.Write), onExchange(m.Source, broker.Read)); err != nil {
		return err
	}
	if err := ch.c.vhost.unbind(m.Source, exchange.Destination{Exchange: true, Name: m.Destination}, m.RoutingKey, m.Arguments); err != nil {
		return err
	}
	if !m.NoWait {
		ch.send(&amqp.ExchangeUnbindOk{})
	}
	return nil
}
