package kernels

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// ISA is an instruction set a SIMD implementation needs.
type ISA int

// The instruction sets, in order: each includes the ones before it.
const (
	NoISA  ISA = iota // plain code
	AVX2              // AVX2 and FMA
	AVX512            // AVX-512 F, BW, VL and FMA
)

func (i ISA) String() string { return [...]string{"none", "avx2", "avx512"}[i] }

// ParseISA reads an instruction set's name as CNN_MAX_CPU_ISA takes it (any case).
func ParseISA(s string) (ISA, error) {
	switch strings.ToLower(s) {
	case "none", "":
		return NoISA, nil
	case "avx2":
		return AVX2, nil
	case "avx512", "avx512_core", "all":
		return AVX512, nil
	}
	return NoISA, fmt.Errorf("CNN_MAX_CPU_ISA=%s: want avx512, avx2 or none", s)
}

// Impl describes one implementation.
type Impl struct {
	Name     string // "reference", "purego", "avx512", "avx2", "onednn", "openblas"
	Doc      string // one line on what it is
	Priority int    // higher is tried first
	ISA      ISA    // the instruction set it needs; NoISA for plain code
	// Missing says why this machine cannot run it ("" when it can): the registering
	// package's CPU check, or a library that failed to start.
	Missing string
	// Fallback marks the implementation that serves every call the enabled ones refuse
	// (purego): it accepts every shape.
	Fallback bool
}

// impl is a registered implementation with its state.
type impl struct {
	Impl
	ops     []string
	allowed atomic.Bool // by CNN_KERNELS or Pin
	used    atomic.Bool
}

// runnable reports whether this machine can run it.
func (m *impl) runnable() bool { return m.Missing == "" && m.ISA <= maxISA }

func (m *impl) enabled() bool { return m.allowed.Load() && m.runnable() }

func (m *impl) mark() {
	if !m.used.Load() {
		m.used.Store(true)
	}
}

type entry[K any] struct {
	m *impl
	k K
}

// table holds the implementations of one operation, highest priority first.
type table[K any] []entry[K]

func (t *table[K]) add(m *impl, k K, op string) {
	*t = append(*t, entry[K]{m, k})
	sort.SliceStable(*t, func(i, j int) bool { return (*t)[i].m.Priority > (*t)[j].m.Priority })
	if !slices.Contains(m.ops, op) {
		m.ops = append(m.ops, op)
	}
}

// set holds the tables of one element type.
type set[T Float] struct {
	gemm table[Gemm[T]]
	conv table[Conv[T]]
	pool table[Pool[T]]
	relu table[ReLU[T]]
	sum  table[ChannelSum[T]]
	axpy table[Axpy[T]]
	bn   table[BatchNorm[T]]
}

var (
	f32      set[float32]
	f64s     set[float64]
	registry struct {
		sync.Mutex
		impls []*impl
	}
	maxISA = envISA()
)

func setOf[T Float]() *set[T] {
	var z T
	if _, ok := any(z).(float32); ok {
		return any(&f32).(*set[T])
	}
	return any(&f64s).(*set[T])
}

func envISA() ISA {
	isa, err := ParseISA(os.Getenv("CNN_MAX_CPU_ISA"))
	if err != nil || os.Getenv("CNN_MAX_CPU_ISA") == "" {
		return AVX512
	}
	return isa
}

// Register files the kernels under each operation of the contract that their types
// implement, for float32 or float64, as implementation d. Implementations register from
// their packages' init functions; registering one name twice adds to it.
func Register(d Impl, kernels ...any) {
	registry.Lock()
	defer registry.Unlock()
	var m *impl
	for _, r := range registry.impls {
		if r.Name == d.Name {
			m = r
		}
	}
	if m == nil {
		m = &impl{Impl: d}
		m.allowed.Store(envAllows(d.Name))
		registry.impls = append(registry.impls, m)
	}
	for _, k := range kernels {
		if add(m, k, &f32)+add(m, k, &f64s) == 0 {
			panic(fmt.Sprintf("kernels: %s registers a %T, which implements no operation", d.Name, k))
		}
	}
}

// add files k under each operation of element type T that it implements, and returns how
// many those are.
func add[T Float](m *impl, k any, s *set[T]) int {
	return file(m, k, &s.gemm, "gemm") + file(m, k, &s.conv, "conv") + file(m, k, &s.pool, "pool") +
		file(m, k, &s.relu, "relu") + file(m, k, &s.sum, "channel-sum") + file(m, k, &s.axpy, "axpy") +
		file(m, k, &s.bn, "batchnorm")
}

// file adds k to table t if it is a K, and returns 1 if it was.
func file[K any](m *impl, k any, t *table[K], op string) int {
	x, ok := k.(K)
	if !ok {
		return 0
	}
	t.add(m, x, op)
	return 1
}

// envAllows reports whether CNN_KERNELS lets implementation name run.
func envAllows(name string) bool {
	v := os.Getenv("CNN_KERNELS")
	if v == "" {
		return true
	}
	return slices.Contains(splitNames(v), name)
}

func splitNames(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// CheckEnv reports an error for a CNN_KERNELS that names an implementation this binary does
// not hold, or a CNN_MAX_CPU_ISA it cannot read.
func CheckEnv() error {
	if v := os.Getenv("CNN_MAX_CPU_ISA"); v != "" {
		if _, err := ParseISA(v); err != nil {
			return err
		}
	}
	known := Names()
	for _, n := range splitNames(os.Getenv("CNN_KERNELS")) {
		if !slices.Contains(known, n) {
			return fmt.Errorf("CNN_KERNELS: unknown implementation %q: want some of %s", n, strings.Join(known, ", "))
		}
	}
	return nil
}

// Names returns the names of the registered implementations, highest priority first.
func Names() []string {
	var out []string
	for _, m := range impls() {
		out = append(out, m.Name)
	}
	return out
}

func impls() []*impl {
	registry.Lock()
	defer registry.Unlock()
	out := slices.Clone(registry.impls)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Priority > out[j].Priority })
	return out
}

// Pin allows only the named implementations to run (the fallback serving what they refuse)
// until the returned function restores the earlier choice. Tests pin one implementation to
// test it alone. It is an error to name one this binary does not hold.
func Pin(names ...string) (restore func(), err error) {
	known := Names()
	for _, n := range names {
		if !slices.Contains(known, n) {
			return nil, fmt.Errorf("kernels: unknown implementation %q: want some of %s", n, strings.Join(known, ", "))
		}
	}
	all := impls()
	before := make([]bool, len(all))
	for i, m := range all {
		before[i] = m.allowed.Load()
		m.allowed.Store(slices.Contains(names, m.Name))
	}
	return func() {
		for i, m := range all {
			m.allowed.Store(before[i])
		}
	}, nil
}

// Info describes one registered implementation for this machine.
type Info struct {
	Impl
	Ops      []string // the operations it offers
	Runnable bool     // this CPU runs it
	Why      string   // why it does not run, when it does not ("" otherwise)
	Enabled  bool     // allowed by CNN_KERNELS or Pin, and runnable
	Used     bool     // has run since the process started
}

// List describes every registered implementation, highest priority first.
func List() []Info {
	var out []Info
	for _, m := range impls() {
		in := Info{Impl: m.Impl, Ops: slices.Clone(m.ops), Runnable: m.runnable(), Enabled: m.enabled(), Used: m.used.Load()}
		switch {
		case m.Missing != "":
			in.Why = m.Missing
		case m.ISA > maxISA:
			in.Why = fmt.Sprintf("needs %v; CNN_MAX_CPU_ISA caps it at %v", m.ISA, maxISA)
		case !m.allowed.Load():
			in.Why = "not allowed by CNN_KERNELS or a pin"
		}
		out = append(out, in)
	}
	return out
}

// Used returns the names of the implementations that have run, highest priority first.
func Used() []string {
	var out []string
	for _, m := range impls() {
		if m.used.Load() {
			out = append(out, m.Name)
		}
	}
	return out
}

// MaxISA returns the instruction set the SIMD implementations may use: the CPU's, capped by
// CNN_MAX_CPU_ISA.
func MaxISA() ISA { return maxISA }

// Describe names the implementations that calls can go to, highest priority first: the
// enabled ones down to the fallback, which serves whatever they refuse ("avx512, onednn,
// purego").
func Describe() string {
	var out []string
	for _, m := range impls() {
		if m.Fallback {
			out = append(out, m.Name)
			break
		}
		if m.enabled() {
			out = append(out, m.Name)
		}
	}
	return strings.Join(out, ", ")
}
