package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/mcrouter-operator/mcrouter-operator/internal/optest"
	"github.com/mcrouter-operator/mcrouter-operator/internal/procfs"
)

// measureMemory has one operator reconcile more and more Mcrouters — up to
// each size of opts.MemoryCRs in turn, all at once, and Successful — and
// reads its memory once it is quiet before the first and after each step:
// how much each CR costs the operator to hold (cached dependents, the run
// record, bookkeeping), not to run.
func (b *bench) measureMemory(ctx context.Context) error {
	const ns = "bench-memory"
	if err := b.createNamespace(ctx, ns); err != nil {
		return err
	}
	pprofPort, err := optest.FreePort()
	if err != nil {
		return err
	}
	executor := b.opts.MemoryExecutor()
	op, err := b.startOperatorWith(ctx, "memory", executor, "--pprof-bind-address", "127.0.0.1:"+strconv.Itoa(pprofPort))
	if err != nil {
		return err
	}
	res := &Memory{Executor: executor}
	err = b.memorySteps(ctx, op, ns, fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap?gc=1", pprofPort), res)
	b.stopOperator(ctx, op)
	if err != nil {
		return fmt.Errorf("memory: %w", err)
	}
	b.report.Memory = res
	// The last phase: the control plane stops next, nothing to clean.
	return nil
}

func (b *bench) memorySteps(ctx context.Context, op *operator, ns, gcURL string, res *Memory) error {
	at := func(crs int, converge float64) error {
		// Runs that controllers re-trigger after Successful, and the skip
		// checks of the dependents' status updates, belong to the step.
		if _, err := b.settle(ctx, op, 3*time.Second, 2*time.Minute, allActivity); err != nil {
			return err
		}
		p, err := b.readOperatorMemory(ctx, op, gcURL, filepath.Join(b.logDir, fmt.Sprintf("heap-memory-%d.pb.gz", crs)))
		if err != nil {
			return err
		}
		p.CRs, p.ConvergeSeconds = crs, converge
		res.add(p)
		p = res.Points[len(res.Points)-1] // with its per-CR figures
		b.log("memory: %d CRs: RSS %.1f MB, Go heap in use %.1f MB%s", crs, float64(p.RSSBytes)/megabytes,
			float64(p.HeapInuseBytes)/megabytes, perCRNote(p))
		return nil
	}
	if err := at(0, 0); err != nil {
		return err
	}
	have := 0
	for _, n := range b.opts.MemoryCRs {
		names := crNames("memory", n)[have:]
		create := func(ctx context.Context) error { return b.createAll(ctx, ns, names, nil) }
		start, done, err := b.awaitSuccessful(ctx, op, ns, names, 1, b.timeout(len(names)), create)
		if err != nil {
			return err
		}
		last, _, _ := doneStats(start, done)
		if err := at(n, last); err != nil {
			return err
		}
		have = n
	}
	return nil
}

func perCRNote(p MemoryPoint) string {
	if p.CRs == 0 {
		return ""
	}
	return fmt.Sprintf("; per CR %.1f KB RSS, %.1f KB heap", p.RSSPerCRBytes/kilobytes, p.HeapPerCRBytes/kilobytes)
}

// readOperatorMemory reads op's resident set, then has it collect garbage
// (pprof's heap profile with gc=1, kept in profile: `go tool pprof` it with
// the operator binary) and reads its Go heap: what the live objects take,
// not what garbage awaiting collection adds.
func (b *bench) readOperatorMemory(ctx context.Context, op *operator, gcURL, profile string) (MemoryPoint, error) {
	var p MemoryPoint
	mem, err := procfs.ReadMemory(b.procRoot, op.Pid())
	if err != nil {
		return p, err
	}
	p.RSSBytes, p.RSSAnonBytes = mem.RSS, mem.Anon
	if err := download(ctx, gcURL, profile); err != nil {
		return p, op.failure(fmt.Errorf("collect the operator's garbage: %w", err))
	}
	m, err := scrape(ctx, op.metricsURL)
	if err != nil {
		return p, op.failure(err)
	}
	p.HeapInuseBytes = int64(m.sum("go_memstats_heap_inuse_bytes", nil))
	p.HeapAllocBytes = int64(m.sum("go_memstats_heap_alloc_bytes", nil))
	return p, nil
}

// download writes what url answers to path.
func download(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
