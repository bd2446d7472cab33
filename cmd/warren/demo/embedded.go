package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/warrenmq/warren/amqp/management"
	"github.com/warrenmq/warren/amqp/server"
	"github.com/warrenmq/warren/amqp/streamserver"
	"github.com/warrenmq/warren/storage"
)

// embedded is a Warren started in this process for the demo: AMQP and
// the management API on free loopback ports, its store and stream logs
// in a temporary directory that Stop removes.
type embedded struct {
	AMQPAddr string
	AMQPURL  string
	APIURL   string
	// StreamURL is the stream protocol listener's URL (chapter 8).
	StreamURL string

	dir   string
	store *storage.Store
	srv   *server.Server
	api   *management.Server
	ss    *streamserver.Server
	done  chan error // Serve's results: the AMQP server's, the API's, the stream server's
	serve int        // how many Serve goroutines run
}

func startEmbedded() (_ *embedded, err error) {
	e := &embedded{done: make(chan error, 3)}
	if e.dir, err = os.MkdirTemp("", "warren-demo-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			e.Stop()
		}
	}()
	if e.store, err = storage.Open(storage.Options{Dir: e.dir, MinFreeBytes: -1}); err != nil {
		return nil, err
	}
	e.srv, err = server.New(server.Config{
		Store:           e.store,
		StreamDir:       filepath.Join(e.dir, "streams"),
		Users:           []server.User{{Name: "guest", PasswordHash: server.HashPassword("guest"), Tags: []string{"administrator"}}},
		ConsumerTimeout: -1,
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e.serve++
	go func() { e.done <- ignoreClosed(e.srv.Serve(ln), server.ErrServerClosed) }()
	e.AMQPAddr = ln.Addr().String()
	e.AMQPURL = "amqp://guest:guest@" + e.AMQPAddr + "/"

	e.api, err = management.New(management.Config{
		Broker:    e.srv.Broker(),
		Registry:  e.srv,
		Listeners: []management.Listener{{Protocol: "amqp", Addr: ln.Addr()}},
		Auth: management.AuthFunc(func(user, pass string, remote net.Addr) (management.User, error) {
			u, err := e.srv.Authenticate(user, pass, remote)
			return management.User{Name: u.Name, Tags: u.Tags, Vhosts: u.Vhosts}, err
		}),
	})
	if err != nil {
		return nil, err
	}
	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e.serve++
	go func() { e.done <- ignoreClosed(e.api.Serve(aln), management.ErrServerClosed) }()
	e.APIURL = (&url.URL{Scheme: "http", User: url.UserPassword("guest", "guest"), Host: aln.Addr().String()}).String()

	e.ss, err = streamserver.New(streamserver.Config{
		Broker: e.srv.Broker(),
		Auth: func(user, pass string, remote net.Addr) (streamserver.User, error) {
			u, err := e.srv.Authenticate(user, pass, remote)
			return streamserver.User{Name: u.Name, Vhosts: u.Vhosts}, err
		},
	})
	if err != nil {
		return nil, err
	}
	sln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e.serve++
	go func() { e.done <- ignoreClosed(e.ss.Serve(sln), streamserver.ErrServerClosed) }()
	e.StreamURL = (&url.URL{Scheme: "rabbitmq-stream", User: url.UserPassword("guest", "guest"), Host: sln.Addr().String()}).String()
	return e, nil
}

func ignoreClosed(err, closed error) error {
	if errors.Is(err, closed) {
		return nil
	}
	return err
}

// Stop shuts the broker down, waits for its goroutines and removes its
// directory.
func (e *embedded) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	if e.ss != nil {
		errs = append(errs, e.ss.Shutdown(ctx))
	}
	if e.api != nil {
		errs = append(errs, e.api.Shutdown(ctx))
	}
	if e.srv != nil {
		errs = append(errs, e.srv.Shutdown(ctx))
	}
	for range e.serve {
		errs = append(errs, <-e.done)
	}
	if e.store != nil {
		errs = append(errs, e.store.Close())
	}
	if e.dir != "" {
		errs = append(errs, os.RemoveAll(e.dir))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stopping the embedded broker: %w", err)
	}
	return nil
}
