// Package gen writes hosting-like file trees for the replication
// benchmarks (bench/replication, bench/protection): sites of PHP/HTML-like
// text, random "JPEG" files and exact duplicates, in nested directories, and
// changes a share of their files for incremental runs. The same seed gives
// the same tree.
package gen

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// kinds of generated files, by share of bytes: text/html/php (compressible),
// jpeg-like random bytes, and exact duplicates of earlier files.
const (
	kindText = iota
	kindJPEG
	kindDup
)

var words = func() []string {
	rng := rand.New(rand.NewPCG(7, 7))
	base := []string{"function", "return", "echo", "class", "public", "div", "span", "href", "the", "and",
		"wp_query", "post", "array", "null", "true", "false", "include", "require_once", "style", "script"}
	out := append([]string(nil), base...)
	for len(out) < 3000 {
		n := 3 + rng.IntN(8)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + rng.IntN(26))
		}
		out = append(out, string(b))
	}
	return out
}()

// Generator writes a hosting-like tree: sites with nested directories. It
// remembers the files it wrote, so that Mutate can change some of them.
type Generator struct {
	rng   *rand.Rand
	root  string
	paths []string
	kinds []int
}

// New returns a generator that writes below root.
func New(root string, seed uint64) *Generator {
	return &Generator{rng: rand.New(rand.NewPCG(seed, 1)), root: root}
}

// Files returns how many files Generate wrote.
func (g *Generator) Files() int { return len(g.paths) }

// textContent returns n bytes of PHP/HTML-like text drawn from a vocabulary.
func (g *Generator) textContent(n int) []byte {
	var b bytes.Buffer
	b.Grow(n + 128)
	for b.Len() < n {
		switch g.rng.IntN(4) {
		case 0:
			fmt.Fprintf(&b, "<div class=\"%s-%s\">", g.word(), g.word())
		case 1:
			fmt.Fprintf(&b, "<?php $%s = %s($%s, %d); ?>\n", g.word(),
				g.word(), g.word(), g.rng.IntN(1000))
		}
		for range 6 + g.rng.IntN(10) {
			b.WriteString(g.word())
			b.WriteByte(' ')
		}
		b.WriteString("</div>\n")
	}
	return b.Bytes()[:n]
}

// word draws from the vocabulary with a Zipf-like skew, as in real text.
func (g *Generator) word() string { return words[g.rng.IntN(g.rng.IntN(len(words))+1)] }

func (g *Generator) randomContent(n int) []byte {
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := g.rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	copy(b, []byte{0xff, 0xd8, 0xff, 0xe0}) // JPEG magic
	return b
}

// size draws a file size: mostly small, a long tail up to 16 MiB.
func (g *Generator) size(mean int) int {
	s := int(g.rng.ExpFloat64() * float64(mean) * 0.7)
	if g.rng.IntN(200) == 0 {
		s = mean * (20 + g.rng.IntN(60))
	}
	return min(max(s, 64), 16<<20)
}

func (g *Generator) kind() int {
	switch r := g.rng.IntN(100); {
	case r < 8 && len(g.paths) > 0:
		return kindDup
	case r < 28:
		return kindJPEG
	default:
		return kindText
	}
}

// Generate writes about total bytes in about files files (of the files,
// 72 % text, 20 % random, 8 % duplicates) and returns the bytes written.
func (g *Generator) Generate(total int64, files int) (int64, error) {
	mean := int(total / int64(files))
	var written int64
	for i := 0; written < total; i++ {
		dir := filepath.Join(fmt.Sprintf("site%03d", i%97), "public_html", fmt.Sprintf("wp-content/d%03d", (i/97/20)%113))
		ext := ".php"
		k := g.kind()
		var data []byte
		switch k {
		case kindDup:
			src := g.paths[g.rng.IntN(len(g.paths))]
			var err error
			if data, err = os.ReadFile(filepath.Join(g.root, src)); err != nil {
				return written, err
			}
			ext = filepath.Ext(src)
		case kindJPEG:
			data, ext = g.randomContent(g.size(mean)), ".jpg"
		default:
			data = g.textContent(g.size(mean))
			if i%3 == 0 {
				ext = ".html"
			}
		}
		rel := filepath.Join(dir, fmt.Sprintf("f%06d%s", i, ext))
		if err := os.MkdirAll(filepath.Join(g.root, dir), 0o755); err != nil {
			return written, err
		}
		if err := os.WriteFile(filepath.Join(g.root, rel), data, 0o644); err != nil {
			return written, err
		}
		g.paths = append(g.paths, rel)
		g.kinds = append(g.kinds, k)
		written += int64(len(data))
	}
	return written, nil
}

// Mutate rewrites frac of the files with new content of the same kind and
// the same size, and returns the bytes written and the number of files.
func (g *Generator) Mutate(frac float64) (int64, int, error) {
	var changed int64
	n := int(float64(len(g.paths)) * frac)
	for i := 0; i < n; i++ {
		j := g.rng.IntN(len(g.paths))
		p := filepath.Join(g.root, g.paths[j])
		fi, err := os.Stat(p)
		if err != nil {
			return changed, i, err
		}
		var data []byte
		if g.kinds[j] == kindJPEG {
			data = g.randomContent(int(fi.Size()))
		} else {
			data = g.textContent(int(fi.Size()))
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return changed, i, err
		}
		changed += int64(len(data))
	}
	return changed, n, nil
}
