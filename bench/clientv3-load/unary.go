package main

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/clientv3"
)

// prepareUnary connects the row's clients and returns the closed loops:
// in-flight goroutines, spread evenly over the clients, each sending its
// next call as soon as the last is answered, to uniformly drawn keys.
func prepareUnary(ctx context.Context, o options) (func(window) (result, error), error) {
	connections := o.connections
	if o.inFlight < connections {
		connections = o.inFlight
	}
	clients, err := connect(o, connections)
	if err != nil {
		return nil, err
	}
	// A first answer from each connection, so that connecting is not measured.
	for _, client := range clients {
		if _, err := client.Get(ctx, "bench-ready", clientv3.WithSerializable()); err != nil {
			closeAll(clients)
			return nil, fmt.Errorf("first call: %v", err)
		}
	}
	keys := make([]string, o.keyspace)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%0*d", o.keyBytes-len("key-"), i)
	}
	send := unaryCall(o, strings.Repeat("v", o.valueBytes))
	return func(w window) (result, error) {
		defer closeAll(clients)
		tallies := make([]tally, o.inFlight)
		var done sync.WaitGroup
		for i := range tallies {
			done.Add(1)
			go func(i int) {
				defer done.Done()
				closedLoop(ctx, w, clients[i%len(clients)], keys, send, rand.New(rand.NewSource(int64(i))), &tallies[i])
			}(i)
		}
		done.Wait()
		return summary(merged(tallies)), nil
	}, nil
}

type call func(ctx context.Context, client *clientv3.Client, key string) error

func unaryCall(o options, value string) call {
	switch o.row {
	case "put":
		return func(ctx context.Context, client *clientv3.Client, key string) error {
			_, err := client.Put(ctx, key, value)
			return err
		}
	case "serializable":
		return func(ctx context.Context, client *clientv3.Client, key string) error {
			_, err := client.Get(ctx, key, clientv3.WithSerializable())
			return err
		}
	default:
		return func(ctx context.Context, client *clientv3.Client, key string) error {
			_, err := client.Get(ctx, key)
			return err
		}
	}
}

func closedLoop(ctx context.Context, w window, client *clientv3.Client, keys []string, send call, random *rand.Rand, t *tally) {
	for time.Now().Before(w.measureUntil) {
		sent := time.Now()
		if err := send(ctx, client, keys[random.Intn(len(keys))]); err != nil {
			t.fail(w, err)
			continue
		}
		if answered := time.Now(); w.contains(answered) {
			t.latencies = append(t.latencies, answered.Sub(sent))
		}
	}
}
