package amqp

import "fmt"

// ReplyCode is an AMQP reply code. The constants are generated from the
// specification; IsHard tells connection errors from channel errors.
type ReplyCode uint16

// Error is the one error type that goes on the wire, as connection.close or
// channel.close. Text is the reply text as RabbitMQ writes it, starting with
// the code's name: "NOT_FOUND - no queue 'q' in vhost '/'".
type Error struct {
	Code     ReplyCode
	Text     string
	ClassID  uint16 // the class of the method that failed, 0 if none
	MethodID uint16 // the method that failed, 0 if none
}

func (e *Error) Error() string {
	if e.ClassID != 0 || e.MethodID != 0 {
		return fmt.Sprintf("amqp %d: %s (%s)", e.Code, e.Text, MethodName(e.ClassID, e.MethodID))
	}
	return fmt.Sprintf("amqp %d: %s", e.Code, e.Text)
}

// Hard reports whether the error closes the connection.
func (e *Error) Hard() bool { return e.Code.IsHard() }

// Errorf builds an Error whose text is "CODE_NAME - " followed by the
// formatted message, RabbitMQ's convention.
func Errorf(code ReplyCode, format string, args ...any) *Error {
	return &Error{Code: code, Text: code.String() + " - " + fmt.Sprintf(format, args...)}
}

// On returns a copy of e that names the method it answers.
func (e *Error) On(methodID uint32) *Error {
	c := *e
	c.ClassID, c.MethodID = ClassOf(methodID), MethodOf(methodID)
	return &c
}

func errShortStr(field string, n int) error {
	return fmt.Errorf("amqp: %s is %d bytes, longer than a shortstr's 255", field, n)
}
