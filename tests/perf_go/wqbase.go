// wqbase: the Go baseline for mk/bench-queue.sh. A work queue with client-go's algorithm
// (k8s.io/client-go/util/workqueue's Type: a FIFO slice, a dirty set and a processing set
// under one mutex and condition variable; an Add while processing is parked until Done)
// and client-go's default Prometheus metrics (depth, adds, queue and work duration
// histograms with the add and start times kept per item, unfinished work and the longest
// running processor refreshed every 500 ms), written here from those semantics so that
// reconperf's queue can be compared with the code it imitates in the same run, on the
// same machine. It prints the same key=value lines as perf_queue.
//
// usage: wqbase cycle [--reps R] [--ops N] [--keys K] [--metrics on|off]
//
//	wqbase throughput [--workers W] [--keys K] [--ms MS] [--metrics on|off]
//	                  [--producer wait|spin]
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	depth          prometheus.Gauge
	adds           prometheus.Counter
	latency        prometheus.Histogram
	workDuration   prometheus.Histogram
	unfinished     prometheus.Gauge
	longest        prometheus.Gauge
	addTimes       map[string]time.Time
	processingFrom map[string]time.Time
}

func newMetrics(reg *prometheus.Registry) *metrics {
	buckets := prometheus.ExponentialBuckets(10e-9, 10, 10)
	m := &metrics{
		depth: prometheus.NewGauge(prometheus.GaugeOpts{Name: "workqueue_depth"}),
		adds:  prometheus.NewCounter(prometheus.CounterOpts{Name: "workqueue_adds_total"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "workqueue_queue_duration_seconds", Buckets: buckets}),
		workDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "workqueue_work_duration_seconds", Buckets: buckets}),
		unfinished: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "workqueue_unfinished_work_seconds"}),
		longest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "workqueue_longest_running_processor_seconds"}),
		addTimes:       map[string]time.Time{},
		processingFrom: map[string]time.Time{},
	}
	reg.MustRegister(m.depth, m.adds, m.latency, m.workDuration, m.unfinished, m.longest)
	return m
}

// Called with the queue's lock held, as client-go's queue calls its metrics.
func (m *metrics) add(item string) {
	m.adds.Inc()
	m.depth.Inc()
	if _, ok := m.addTimes[item]; !ok {
		m.addTimes[item] = time.Now()
	}
}

func (m *metrics) get(item string) {
	m.depth.Dec()
	now := time.Now()
	m.processingFrom[item] = now
	if t, ok := m.addTimes[item]; ok {
		m.latency.Observe(now.Sub(t).Seconds())
		delete(m.addTimes, item)
	}
}

func (m *metrics) done(item string) {
	if t, ok := m.processingFrom[item]; ok {
		m.workDuration.Observe(time.Since(t).Seconds())
		delete(m.processingFrom, item)
	}
}

func (m *metrics) updateUnfinished() {
	now := time.Now()
	var total, longest float64
	for _, t := range m.processingFrom {
		d := now.Sub(t).Seconds()
		total += d
		if d > longest {
			longest = d
		}
	}
	m.unfinished.Set(total)
	m.longest.Set(longest)
}

type queue struct {
	mu           sync.Mutex
	cond         *sync.Cond
	items        []string
	dirty        map[string]struct{}
	processing   map[string]struct{}
	shuttingDown bool
	m            *metrics
	stop         chan struct{}
	// len(items), kept for the producer to read without the lock, as perf_queue's
	// producer reads the queue's depth (client-go's Len takes the lock)
	depth atomic.Int64
}

func newQueue(m *metrics) *queue {
	q := &queue{dirty: map[string]struct{}{}, processing: map[string]struct{}{}, m: m,
		stop: make(chan struct{})}
	q.cond = sync.NewCond(&q.mu)
	if m != nil {
		go func() {
			t := time.NewTicker(500 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-q.stop:
					return
				case <-t.C:
					q.mu.Lock()
					m.updateUnfinished()
					q.mu.Unlock()
				}
			}
		}()
	}
	return q
}

func (q *queue) Add(item string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shuttingDown {
		return
	}
	if _, ok := q.dirty[item]; ok {
		return
	}
	if q.m != nil {
		q.m.add(item)
	}
	q.dirty[item] = struct{}{}
	if _, ok := q.processing[item]; ok {
		return
	}
	q.items = append(q.items, item)
	q.depth.Store(int64(len(q.items)))
	q.cond.Signal()
}

func (q *queue) Get() (string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.shuttingDown {
		q.cond.Wait()
	}
	if len(q.items) == 0 {
		return "", true
	}
	item := q.items[0]
	q.items[0] = ""
	q.items = q.items[1:]
	q.depth.Store(int64(len(q.items)))
	if q.m != nil {
		q.m.get(item)
	}
	q.processing[item] = struct{}{}
	delete(q.dirty, item)
	return item, false
}

func (q *queue) Done(item string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.m != nil {
		q.m.done(item)
	}
	delete(q.processing, item)
	if _, ok := q.dirty[item]; ok {
		q.items = append(q.items, item)
		q.depth.Store(int64(len(q.items)))
		q.cond.Signal()
	}
}

func (q *queue) ShutDown() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.shuttingDown {
		q.shuttingDown = true
		close(q.stop)
	}
	q.cond.Broadcast()
}

func cpuNs(who int) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

const rusageThread = 1

func keys(n int) []string {
	k := make([]string, n)
	for i := range k {
		k[i] = "ns-" + strconv.Itoa(i/100) + "/obj-" + strconv.Itoa(i)
	}
	return k
}

func cycle(reps, ops, nkeys int, withMetrics bool) {
	runtime.LockOSThread()
	k := keys(nkeys)
	var wall, cpu []float64
	for r := 0; r < reps; r++ {
		var m *metrics
		if withMetrics {
			m = newMetrics(prometheus.NewRegistry())
		}
		q := newQueue(m)
		t0, c0 := time.Now(), cpuNs(rusageThread)
		for i := 0; i < ops; i++ {
			q.Add(k[i%nkeys])
			item, _ := q.Get()
			q.Done(item)
		}
		c1 := cpuNs(rusageThread)
		wall = append(wall, float64(time.Since(t0).Nanoseconds())/float64(ops))
		cpu = append(cpu, float64(c1-c0)/float64(ops))
		q.ShutDown()
	}
	sort.Float64s(wall)
	sort.Float64s(cpu)
	mid := (reps - 1) / 2
	fmt.Printf("mode=cycle kind=go-clientgo metrics=%s keys=%d ops=%d reps=%d ns_min=%.1f "+
		"ns_median=%.1f cpu_ns_min=%.1f cpu_ns_median=%.1f\n", onoff(withMetrics), nkeys, ops,
		reps, wall[0], wall[mid], cpu[0], cpu[mid])
}

func throughput(workers, nkeys, ms int, withMetrics, spin bool) {
	k := keys(nkeys)
	var m *metrics
	if withMetrics {
		m = newMetrics(prometheus.NewRegistry())
	}
	q := newQueue(m)
	var done int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	c0 := cpuNs(syscall.RUSAGE_SELF)
	t0 := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n int64
			for {
				item, shutdown := q.Get()
				if shutdown {
					break
				}
				q.Done(item)
				n++
			}
			atomic.AddInt64(&done, n)
		}()
	}
	go func() {
		for i := 0; !stop.Load(); i++ {
			if !spin && q.depth.Load() >= int64(nkeys-nkeys/64) {
				for q.depth.Load() > int64(nkeys/2) && !stop.Load() {
					time.Sleep(50 * time.Microsecond)
				}
			}
			q.Add(k[i%nkeys])
		}
	}()
	time.Sleep(time.Duration(ms) * time.Millisecond)
	stop.Store(true)
	elapsed := time.Since(t0)
	q.ShutDown()
	wg.Wait()
	c1 := cpuNs(syscall.RUSAGE_SELF)
	n := atomic.LoadInt64(&done)
	producer := "wait"
	if spin {
		producer = "spin"
	}
	fmt.Printf("mode=throughput kind=go-clientgo metrics=%s producer=%s workers=%d keys=%d "+
		"items=%d items_per_s=%.0f cpu_ns_per_item=%.0f\n", onoff(withMetrics), producer,
		workers, nkeys, n, float64(n)/elapsed.Seconds(), float64(c1-c0)/float64(n))
}

func onoff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: wqbase cycle|throughput [options]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	reps := fs.Int("reps", 15, "repetitions (cycle)")
	ops := fs.Int("ops", 200000, "cycles per repetition (cycle)")
	nkeys := fs.Int("keys", 10000, "distinct keys")
	workers := fs.Int("workers", 2, "workers (throughput)")
	ms := fs.Int("ms", 500, "duration in ms (throughput)")
	met := fs.String("metrics", "on", "on|off")
	prod := fs.String("producer", "wait", "wait|spin (throughput)")
	if err := fs.Parse(os.Args[2:]); err != nil || *nkeys < 1 || *reps < 1 || *ops < 1 ||
		*workers < 1 || *ms < 1 || (*met != "on" && *met != "off") ||
		(*prod != "wait" && *prod != "spin") {
		fmt.Fprintln(os.Stderr, "wqbase: bad options")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "cycle":
		cycle(*reps, *ops, *nkeys, *met == "on")
	case "throughput":
		throughput(*workers, *nkeys, *ms, *met == "on", *prod == "spin")
	default:
		fmt.Fprintln(os.Stderr, "wqbase: mode must be cycle or throughput")
		os.Exit(2)
	}
}
