// Fixture: Go symbols.
package server

import "fmt"

const DefaultPort = 8080

const (
	ModeDev  = "dev"
	ModeProd = "prod"
)

var registry = map[string]Handler{}

type Handler interface {
	Serve(req string) string
}

type Server struct {
	port int
}

type Port int

type (
	Alias   = Server
	Options struct{ debug bool }
)

func NewServer(port int) *Server {
	return &Server{port: port}
}

func (s *Server) Start() error {
	fmt.Println("start", s.port)
	return nil
}

func (s Server) Port() int {
	return s.port
}
