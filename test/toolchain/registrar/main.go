// Command registrar announces a CSI driver to the kubelet: it answers the kubelet's plugin
// registration API on a socket in <kubelet root>/plugins_registry/, naming the driver and the path
// of its CSI socket; the kubelet then talks to the driver directly (NodeGetInfo, publish, ...).
// It does the one job of node-driver-registrar that the tests need.
package main

import (
	"context"
	"flag"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"
	regv1 "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

type registration struct {
	regv1.UnimplementedRegistrationServer
	driver   string
	endpoint string
}

func (r *registration) GetInfo(context.Context, *regv1.InfoRequest) (*regv1.PluginInfo, error) {
	return &regv1.PluginInfo{Type: regv1.CSIPlugin, Name: r.driver, Endpoint: r.endpoint, SupportedVersions: []string{"1.0.0"}}, nil
}

func (r *registration) NotifyRegistrationStatus(_ context.Context, s *regv1.RegistrationStatus) (*regv1.RegistrationStatusResponse, error) {
	if s.PluginRegistered {
		log.Printf("kubelet registered %s", r.driver)
	} else {
		log.Printf("kubelet refused %s: %s", r.driver, s.Error)
	}
	return &regv1.RegistrationStatusResponse{}, nil
}

func main() {
	driver := flag.String("driver", "csi.juicefs.com", "name of the CSI driver")
	endpoint := flag.String("csi-endpoint", "", "path of the driver's CSI socket, as the kubelet sees it")
	socket := flag.String("registration-socket", "", "socket to serve, <kubelet root>/plugins_registry/<driver>-reg.sock")
	flag.Parse()
	if *endpoint == "" || *socket == "" {
		log.Fatal("--csi-endpoint and --registration-socket are required")
	}
	_ = os.Remove(*socket)
	l, err := net.Listen("unix", *socket)
	if err != nil {
		log.Fatalf("listen on %s: %v", *socket, err)
	}
	srv := grpc.NewServer()
	regv1.RegisterRegistrationServer(srv, &registration{driver: *driver, endpoint: *endpoint})
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		srv.Stop()
		_ = os.Remove(*socket)
	}()
	log.Printf("registering %s (%s) through %s", *driver, *endpoint, *socket)
	if err := srv.Serve(l); err != nil {
		log.Fatal(err)
	}
}
