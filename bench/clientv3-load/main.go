// clientv3-load runs one row of `bench grpc` with etcd's own Go client
// (go.etcd.io/etcd/clientv3, 3.4, from Debian's golang-etcd-server-dev), so
// that the load costs far less CPU per call than grpc-js does, less than
// either server. It connects, prints {"ready":true}, waits for a line "go"
// on stdin, then loads for the warm-up and the measured window and prints
// one JSON line of what it measured in the window. See bench/README.md.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/etcd/clientv3"
	"google.golang.org/grpc/metadata"
)

type options struct {
	endpoint    string
	row         string
	inFlight    int
	connections int
	watchers    int
	keyspace    int
	keyBytes    int
	valueBytes  int
	watchedKey  string
	warmup      time.Duration
	duration    time.Duration
	caFile      string
	token       string
}

// window is the time the row loads (from start) and measures (from measureFrom to measureUntil).
type window struct {
	start, measureFrom, measureUntil time.Time
}

func (w window) contains(at time.Time) bool {
	return !at.Before(w.measureFrom) && !at.After(w.measureUntil)
}

// tally is what one load goroutine saw in the window; tallies add up.
type tally struct {
	latencies  []time.Duration
	errors     int
	firstError string
}

func (t *tally) fail(w window, err error) {
	if w.contains(time.Now()) {
		t.errors++
	}
	if t.firstError == "" {
		t.firstError = err.Error()
	}
}

func merged(tallies []tally) tally {
	var sum tally
	for _, t := range tallies {
		sum.latencies = append(sum.latencies, t.latencies...)
		sum.errors += t.errors
		if sum.firstError == "" {
			sum.firstError = t.firstError
		}
	}
	return sum
}

// result is the JSON line the row ends with: latencies (delays in the watch row) in ms, CPU over the window.
type result struct {
	Completed  int     `json:"completed"`
	P50Ms      float64 `json:"p50Ms"`
	P99Ms      float64 `json:"p99Ms"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"firstError,omitempty"`
	CPUMs      float64 `json:"cpuMs"`
	WindowMs   float64 `json:"windowMs"`
	WriterPuts *int    `json:"writerPuts,omitempty"`
}

func main() {
	o := parseOptions()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "clientv3-load:", err)
		os.Exit(1)
	}
}

func parseOptions() options {
	var o options
	flag.StringVar(&o.endpoint, "endpoint", "", "host:port of the member to load")
	flag.StringVar(&o.row, "row", "", "put, range (linearizable), serializable or watch")
	flag.IntVar(&o.inFlight, "in-flight", 1, "calls in flight (unary rows)")
	flag.IntVar(&o.connections, "connections", 4, "clients, each its own HTTP/2 connection; the watch row opens one Watch stream on each")
	flag.IntVar(&o.watchers, "watchers", 1000, "watchers of the watched key (watch row)")
	flag.IntVar(&o.keyspace, "keyspace", 10000, "distinct keys")
	flag.IntVar(&o.keyBytes, "key-bytes", 16, "length of a key: \"key-\" and its number padded with zeros")
	flag.IntVar(&o.valueBytes, "value-bytes", 256, "length of every value put")
	flag.StringVar(&o.watchedKey, "watched-key", "watched-key-0000", "the key the watch row watches and its writer puts")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "load before the measured window")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "the measured window")
	flag.StringVar(&o.caFile, "cacert", "", "CA file to trust: TLS when given")
	flag.StringVar(&o.token, "token", "", "auth token, sent as etcd's token metadata on every call")
	flag.Parse()
	return o
}

func run(o options) error {
	if o.endpoint == "" || o.connections < 1 || o.inFlight < 1 || o.watchers < 1 || o.keyspace < 1 {
		return errors.New("--endpoint and positive --connections, --in-flight, --watchers and --keyspace are needed")
	}
	ctx := context.Background()
	if o.token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "token", o.token)
	}
	var load func(context.Context, options) (func(window) (result, error), error)
	switch o.row {
	case "put", "range", "serializable":
		load = prepareUnary
	case "watch":
		load = prepareWatch
	default:
		return fmt.Errorf("--row %q is not put, range, serializable or watch", o.row)
	}
	start, err := load(ctx, o)
	if err != nil {
		return err
	}
	if err := handshake(); err != nil {
		return err
	}
	now := time.Now()
	w := window{start: now, measureFrom: now.Add(o.warmup), measureUntil: now.Add(o.warmup + o.duration)}
	cpu := make(chan time.Duration, 1)
	go func() { cpu <- cpuOver(w) }()
	r, err := start(w)
	if err != nil {
		return err
	}
	r.CPUMs = float64(<-cpu) / float64(time.Millisecond)
	r.WindowMs = float64(o.duration) / float64(time.Millisecond)
	return json.NewEncoder(os.Stdout).Encode(r)
}

// handshake says the connections (and watchers) are up, and waits for the harness to start the row.
func handshake() error {
	fmt.Println(`{"ready":true}`)
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "go" {
		return fmt.Errorf("expected the line \"go\" on stdin, got %q (%v)", line, err)
	}
	return nil
}

// connect opens n clients of one endpoint; each clientv3 client is a gRPC connection of its own.
func connect(o options, n int) ([]*clientv3.Client, error) {
	config := clientv3.Config{Endpoints: []string{o.endpoint}, DialTimeout: 10 * time.Second}
	if o.caFile != "" {
		pem, err := ioutil.ReadFile(o.caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", o.caFile)
		}
		config.TLS = &tls.Config{RootCAs: pool}
	}
	clients := make([]*clientv3.Client, n)
	for i := range clients {
		client, err := clientv3.New(config)
		if err != nil {
			closeAll(clients[:i])
			return nil, fmt.Errorf("connecting to %s: %v", o.endpoint, err)
		}
		clients[i] = client
	}
	return clients, nil
}

func closeAll(clients []*clientv3.Client) {
	for _, client := range clients {
		client.Close()
	}
}

// cpuOver is this process's CPU time (user and system, all threads) within the window.
func cpuOver(w window) time.Duration {
	time.Sleep(time.Until(w.measureFrom))
	before := cpuTime()
	time.Sleep(time.Until(w.measureUntil))
	return cpuTime() - before
}

func cpuTime() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// summary puts a tally's latencies into the JSON line: p50 and p99 are the latencies at ranks ⌈q·n⌉.
func summary(t tally) result {
	sort.Slice(t.latencies, func(i, j int) bool { return t.latencies[i] < t.latencies[j] })
	quantile := func(q float64) float64 {
		n := len(t.latencies)
		if n == 0 {
			return 0
		}
		rank := int(q*float64(n) + 0.999999)
		if rank < 1 {
			rank = 1
		}
		return float64(t.latencies[rank-1]) / float64(time.Millisecond)
	}
	return result{Completed: len(t.latencies), P50Ms: quantile(0.5), P99Ms: quantile(0.99), Errors: t.errors, FirstError: t.firstError}
}
