package tui

// The Exec pane's live preview: which alive members the node, service and
// tag expressions select, computed from the member list and the catalog
// the way each agent decides for itself (node regexp on its name; service
// regexp on the names of its services, tag regexp on the tags of a
// matching service).

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"sync"

	tea "github.com/charmbracelet/bubbletea"

	"consulx/api"
)

type nodeService struct {
	name string
	tags []string
}

// execTargets is what the preview is computed from.
type execTargets struct {
	alive    []string                 // alive LAN members, sorted
	services map[string][]nodeService // the catalog's services by node
}

type execTargetsMsg struct {
	seq int
	t   execTargets
	err error
}

// fetchTargets reads the members and the catalog's services by node;
// force starts a new read even while one runs (the older answer is dropped).
func (p *execPane) fetchTargets(force bool) tea.Cmd {
	if p.tbusy && !force {
		return nil
	}
	p.tbusy = true
	p.tseq++
	seq, src, parent := p.tseq, p.sh.src, p.sh.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, pollTimeout)
		defer cancel()
		ms, _, err := src.MembersMeta(ctx, false)
		if err != nil {
			return execTargetsMsg{seq: seq, err: err}
		}
		var t execTargets
		for _, m := range ms {
			if api.StatusWord(m.Status) == "alive" {
				t.alive = append(t.alive, m.Name)
			}
		}
		sort.Strings(t.alive)
		names, _, err := src.CatalogServices(ctx, nil)
		if err != nil {
			return execTargetsMsg{seq: seq, err: err}
		}
		var (
			mu   sync.Mutex
			wg   sync.WaitGroup
			ferr error
		)
		t.services = map[string][]nodeService{}
		sem := make(chan struct{}, healthFetchers)
		for name := range names {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				es, _, err := src.HealthService(ctx, name, false, nil)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					ferr = fmt.Errorf("service %s: %w", name, err)
					return
				}
				for _, e := range es {
					t.services[e.Node.Node] = append(t.services[e.Node.Node], nodeService{name: e.Service.Service, tags: e.Service.Tags})
				}
			})
		}
		wg.Wait()
		if ferr != nil {
			return execTargetsMsg{seq: seq, err: ferr}
		}
		return execTargetsMsg{seq: seq, t: t}
	}
}

var errTagNeedsService = errors.New("a tag filter needs a service filter (as consul exec's -tag)")

// compileFilter compiles a filter; "" matches everything (nil).
func compileFilter(what, expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("%s filter: %w", what, err)
	}
	return re, nil
}

// match lists the alive nodes the filters select, sorted.
func (t execTargets) match(node, service, tag string) ([]string, error) {
	if tag != "" && service == "" {
		return nil, errTagNeedsService
	}
	nre, err := compileFilter("node", node)
	if err != nil {
		return nil, err
	}
	sre, err := compileFilter("service", service)
	if err != nil {
		return nil, err
	}
	tre, err := compileFilter("tag", tag)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range t.alive {
		if nre != nil && !nre.MatchString(n) {
			continue
		}
		if sre != nil && !hasService(t.services[n], sre, tre) {
			continue
		}
		out = append(out, n)
	}
	return out, nil
}

// hasService: one of svcs is named as sre says and, when tre is set,
// carries a tag it matches.
func hasService(svcs []nodeService, sre, tre *regexp.Regexp) bool {
	for _, s := range svcs {
		if !sre.MatchString(s.name) {
			continue
		}
		if tre == nil {
			return true
		}
		for _, t := range s.tags {
			if tre.MatchString(t) {
				return true
			}
		}
	}
	return false
}
