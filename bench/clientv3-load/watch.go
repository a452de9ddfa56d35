package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/clientv3"
)

// arrival is one event as a watcher received it.
type arrival struct {
	revision int64
	at       time.Time
}

// watcher is one watch of the watched key and what it received, until its channel closes.
type watcher struct {
	arrivals   []arrival
	errors     int
	firstError string
}

func (w *watcher) fail(reason string) {
	w.errors++
	if w.firstError == "" {
		w.firstError = reason
	}
}

// receive reads the watch's responses: the first must say it was created, then events until the channel closes.
func (w *watcher) receive(responses clientv3.WatchChan, created *sync.WaitGroup) {
	first, open := <-responses
	if !open || !first.Created {
		w.fail(fmt.Sprintf("the watch was not created: %v", first.Err()))
	}
	created.Done()
	for response := range responses {
		if err := response.Err(); err != nil {
			w.fail(err.Error())
		}
		at := time.Now()
		for _, event := range response.Events {
			w.arrivals = append(w.arrivals, arrival{event.Kv.ModRevision, at})
		}
	}
}

// prepareWatch creates every watcher, spread evenly over one Watch stream
// per client (clientv3 puts a client's watches made with one context on one
// stream), and returns the row: one writer, on a client of its own, puts to
// the watched key one at a time, each as soon as the last is acknowledged.
// An event's delay is its arrival minus its put's acknowledgement, 0 if it
// came first.
func prepareWatch(ctx context.Context, o options) (func(window) (result, error), error) {
	clients, err := connect(o, o.connections+1)
	if err != nil {
		return nil, err
	}
	writerClient, watchClients := clients[0], clients[1:]
	watchCtx, stopWatching := context.WithCancel(ctx)
	watchers := make([]watcher, o.watchers)
	var created, finished sync.WaitGroup
	for i := range watchers {
		created.Add(1)
		finished.Add(1)
		responses := watchClients[i%len(watchClients)].Watch(watchCtx, o.watchedKey, clientv3.WithCreatedNotify())
		go func(w *watcher) {
			defer finished.Done()
			w.receive(responses, &created)
		}(&watchers[i])
	}
	if err := waitCreated(&created, time.Minute); err != nil {
		stopWatching()
		closeAll(clients)
		return nil, err
	}
	value := strings.Repeat("v", o.valueBytes)
	return func(w window) (result, error) {
		defer closeAll(clients)
		acks, writer := write(ctx, w, writerClient, o.watchedKey, value)
		stopWatching()
		finished.Wait()
		received, events := delays(w, watchers, acks, writer)
		r := summary(received)
		// An event whose put's acknowledgement never came (the put failed) counts, without a delay.
		r.Completed = events
		puts := len(acks.inWindow)
		r.WriterPuts = &puts
		return r, nil
	}, nil
}

func waitCreated(created *sync.WaitGroup, limit time.Duration) error {
	done := make(chan struct{})
	go func() {
		created.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-time.After(limit):
		return fmt.Errorf("the watchers were not all created within %v", limit)
	}
}

// acknowledgements are the writer's: when each revision's put was answered, and which were answered in the window.
type acknowledgements struct {
	at       map[int64]time.Time
	inWindow []int64
}

func write(ctx context.Context, w window, client *clientv3.Client, key, value string) (acknowledgements, tally) {
	acks := acknowledgements{at: map[int64]time.Time{}}
	var writer tally
	for time.Now().Before(w.measureUntil) {
		response, err := client.Put(ctx, key, value)
		if err != nil {
			writer.fail(w, fmt.Errorf("writer: %v", err))
			continue
		}
		at := time.Now()
		acks.at[response.Header.Revision] = at
		if w.contains(at) {
			acks.inWindow = append(acks.inWindow, response.Header.Revision)
		}
	}
	return acks, writer
}

// delays is the events received in the window, with the delay of each whose put was acknowledged, and every failure.
func delays(w window, watchers []watcher, acks acknowledgements, writer tally) (tally, int) {
	all := tally{errors: writer.errors, firstError: writer.firstError}
	events := 0
	for _, watcher := range watchers {
		all.errors += watcher.errors
		if all.firstError == "" {
			all.firstError = watcher.firstError
		}
		for _, event := range watcher.arrivals {
			if !w.contains(event.at) {
				continue
			}
			events++
			if ackAt, acked := acks.at[event.revision]; acked {
				delay := event.at.Sub(ackAt)
				if delay < 0 {
					delay = 0
				}
				all.latencies = append(all.latencies, delay)
			}
		}
	}
	return all, events
}
