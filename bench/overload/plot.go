package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"strings"
)

// The plot is drawn with the standard library only: two panels sharing the
// offered-rate axis, 2xx throughput on top (linear) and p99 latency below
// (logarithmic, since it spans from a fraction of a millisecond to seconds).

const (
	plotW, plotH = 1000, 860
	marginL      = 90
	marginR      = 30
	panelH       = 330
	topY         = 60  // top panel's upper edge
	bottomY      = 470 // bottom panel's upper edge
)

var (
	white     = color.RGBA{255, 255, 255, 255}
	black     = color.RGBA{0, 0, 0, 255}
	grid      = color.RGBA{225, 225, 225, 255}
	gray      = color.RGBA{150, 150, 150, 255}
	seriesCol = []color.RGBA{{31, 100, 200, 255}, {210, 50, 40, 255}, {40, 150, 60, 255}, {150, 80, 180, 255}}
)

type canvas struct{ *image.RGBA }

func writePlot(path, title string, runs map[string][]step, order []string) error {
	var labels []string
	for _, l := range order {
		if len(runs[l]) > 0 {
			labels = append(labels, l)
		}
	}
	for l := range runs {
		if !contains(labels, l) {
			labels = append(labels, l)
		}
	}
	c := canvas{image.NewRGBA(image.Rect(0, 0, plotW, plotH))}
	c.fill(white)

	maxRate, maxOK := 0.0, 0.0
	minLat, maxLat := math.Inf(1), 0.0
	for _, l := range labels {
		for _, s := range runs[l] {
			maxRate = math.Max(maxRate, s.Offered)
			maxOK = math.Max(maxOK, math.Max(s.OK, s.Shed))
			for _, v := range []float64{s.OKP99, s.ShedP99} {
				if v > 0 {
					minLat, maxLat = math.Min(minLat, v), math.Max(maxLat, v)
				}
			}
		}
	}
	if maxRate == 0 {
		return fmt.Errorf("plot: nothing to draw")
	}
	if maxLat == 0 {
		minLat, maxLat = 0.1, 1
	}
	xMax := niceCeil(maxRate)
	yMax := niceCeil(math.Max(maxOK, 1))
	logMin := math.Floor(math.Log10(minLat))
	logMax := math.Ceil(math.Log10(maxLat))
	if logMax <= logMin {
		logMax = logMin + 1
	}
	x0, x1 := marginL, plotW-marginR
	xOf := func(rate float64) int { return x0 + int(rate/xMax*float64(x1-x0)+0.5) }

	c.text(marginL, 15, title, 2, black)

	// Top panel: throughput.
	yTop := func(v float64) int { return topY + panelH - int(v/yMax*panelH+0.5) }
	for i := 0; i <= 5; i++ {
		v := yMax * float64(i) / 5
		y := yTop(v)
		c.hline(x0, x1, y, grid)
		c.textRight(x0-6, y-7, fmtRate(v), 2, black)
	}
	c.axes(x0, x1, topY, topY+panelH, xMax, xOf)
	c.text(x0+8, topY+8, "2XX RESPONSES/S (SOLID), 503/S (DASHED)", 2, black)
	// y = x: what a server with unlimited capacity would answer.
	c.line(xOf(0), yTop(0), xOf(math.Min(xMax, yMax)), yTop(math.Min(xMax, yMax)), gray, 1, true)

	// Bottom panel: p99 latency, log scale.
	yBot := func(v float64) int {
		v = math.Max(v, math.Pow(10, logMin))
		f := (math.Log10(v) - logMin) / (logMax - logMin)
		return bottomY + panelH - int(f*panelH+0.5)
	}
	for e := logMin; e <= logMax; e++ {
		y := yBot(math.Pow(10, e))
		c.hline(x0, x1, y, grid)
		c.textRight(x0-6, y-7, fmtMs(math.Pow(10, e)), 2, black)
	}
	c.axes(x0, x1, bottomY, bottomY+panelH, xMax, xOf)
	c.text(x0+8, bottomY+8, "P99 LATENCY, MS (LOG): 2XX (SOLID), 503 (DASHED)", 2, black)
	c.text(x0+(x1-x0)/2-150, bottomY+panelH+36, "OFFERED RATE, REQUESTS/S", 2, black)

	for i, l := range labels {
		col := seriesCol[i%len(seriesCol)]
		var okPts, shedPts, okLat, shedLat [][2]int
		for _, s := range runs[l] {
			x := xOf(s.Offered)
			okPts = append(okPts, [2]int{x, yTop(s.OK)})
			if s.Shed > 0 {
				shedPts = append(shedPts, [2]int{x, yTop(s.Shed)})
			}
			if s.OKP99 > 0 {
				okLat = append(okLat, [2]int{x, yBot(s.OKP99)})
			}
			if s.ShedP99 > 0 {
				shedLat = append(shedLat, [2]int{x, yBot(s.ShedP99)})
			}
		}
		c.series(okPts, col, false)
		c.series(shedPts, col, true)
		c.series(okLat, col, false)
		c.series(shedLat, col, true)
		// Legend.
		lx, ly := x1-260, topY+10+i*22
		c.line(lx, ly+7, lx+30, ly+7, col, 3, false)
		c.text(lx+40, ly, strings.ToUpper(l), 2, black)
	}

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, c.RGBA); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// niceCeil rounds v up to a round multiple of a power of ten, one that ten
// ticks divide into short labels.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func fmtRate(v float64) string {
	if v >= 1000 {
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v/1000), ".0") + "K"
	}
	return fmt.Sprintf("%.0f", v)
}

func fmtMs(v float64) string {
	if v < 1 {
		return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
	}
	return fmt.Sprintf("%.0f", v)
}

func (c canvas) fill(col color.RGBA) {
	for i := 0; i < len(c.Pix); i += 4 {
		c.Pix[i], c.Pix[i+1], c.Pix[i+2], c.Pix[i+3] = col.R, col.G, col.B, col.A
	}
}

func (c canvas) hline(x0, x1, y int, col color.RGBA) {
	for x := x0; x <= x1; x++ {
		c.SetRGBA(x, y, col)
	}
}

func (c canvas) axes(x0, x1, yTop, yBottom int, xMax float64, xOf func(float64) int) {
	c.line(x0, yTop, x0, yBottom, black, 1, false)
	c.line(x0, yBottom, x1, yBottom, black, 1, false)
	for i := 0; i <= 10; i++ {
		v := xMax * float64(i) / 10
		x := xOf(v)
		c.line(x, yBottom, x, yBottom+5, black, 1, false)
		if i%2 == 0 {
			c.text(x-len(fmtRate(v))*6, yBottom+10, fmtRate(v), 2, black)
		}
	}
}

// series draws a polyline with a square marker on every point.
func (c canvas) series(pts [][2]int, col color.RGBA, dashed bool) {
	for i, p := range pts {
		if i > 0 {
			c.line(pts[i-1][0], pts[i-1][1], p[0], p[1], col, 3, dashed)
		}
		for dx := -4; dx <= 4; dx++ {
			for dy := -4; dy <= 4; dy++ {
				if dashed && dx > -3 && dx < 3 && dy > -3 && dy < 3 {
					continue // hollow marker for dashed series
				}
				c.SetRGBA(p[0]+dx, p[1]+dy, col)
			}
		}
	}
}

// line draws from (x0,y0) to (x1,y1) with Bresenham's algorithm, width pixels
// wide, optionally dashed (8 on, 6 off).
func (c canvas) line(x0, y0, x1, y1 int, col color.RGBA, width int, dashed bool) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	err := dx + dy
	for n := 0; ; n++ {
		if !dashed || n%14 < 8 {
			for w := -(width / 2); w <= width/2; w++ {
				if dx >= -dy {
					c.SetRGBA(x0, y0+w, col)
				} else {
					c.SetRGBA(x0+w, y0, col)
				}
			}
		}
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * err
		if e2 >= dy {
			err += dy
			x0 += sx
		}
		if e2 <= dx {
			err += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}

// text draws s (upper-cased) in the 5x7 font below, scaled, from (x, y) its
// top-left corner.
func (c canvas) text(x, y int, s string, scale int, col color.RGBA) {
	for _, r := range strings.ToUpper(s) {
		g, ok := font5x7[r]
		if !ok {
			g = font5x7['?']
		}
		for cx, bits := range g {
			for cy := 0; cy < 7; cy++ {
				if bits&(1<<cy) == 0 {
					continue
				}
				for i := 0; i < scale; i++ {
					for j := 0; j < scale; j++ {
						c.SetRGBA(x+cx*scale+i, y+cy*scale+j, col)
					}
				}
			}
		}
		x += 6 * scale
	}
}

func (c canvas) textRight(x, y int, s string, scale int, col color.RGBA) {
	c.text(x-len(s)*6*scale, y, s, scale, col)
}

// font5x7 is the classic 5x7 LCD font: five columns per glyph, bit 0 the top row.
var font5x7 = map[rune][5]byte{
	' ': {0x00, 0x00, 0x00, 0x00, 0x00},
	'0': {0x3E, 0x51, 0x49, 0x45, 0x3E}, '1': {0x00, 0x42, 0x7F, 0x40, 0x00},
	'2': {0x42, 0x61, 0x51, 0x49, 0x46}, '3': {0x21, 0x41, 0x45, 0x4B, 0x31},
	'4': {0x18, 0x14, 0x12, 0x7F, 0x10}, '5': {0x27, 0x45, 0x45, 0x45, 0x39},
	'6': {0x3C, 0x4A, 0x49, 0x49, 0x30}, '7': {0x01, 0x71, 0x09, 0x05, 0x03},
	'8': {0x36, 0x49, 0x49, 0x49, 0x36}, '9': {0x06, 0x49, 0x49, 0x29, 0x1E},
	'A': {0x7E, 0x11, 0x11, 0x11, 0x7E}, 'B': {0x7F, 0x49, 0x49, 0x49, 0x36},
	'C': {0x3E, 0x41, 0x41, 0x41, 0x22}, 'D': {0x7F, 0x41, 0x41, 0x22, 0x1C},
	'E': {0x7F, 0x49, 0x49, 0x49, 0x41}, 'F': {0x7F, 0x09, 0x09, 0x09, 0x01},
	'G': {0x3E, 0x41, 0x49, 0x49, 0x7A}, 'H': {0x7F, 0x08, 0x08, 0x08, 0x7F},
	'I': {0x00, 0x41, 0x7F, 0x41, 0x00}, 'J': {0x20, 0x40, 0x41, 0x3F, 0x01},
	'K': {0x7F, 0x08, 0x14, 0x22, 0x41}, 'L': {0x7F, 0x40, 0x40, 0x40, 0x40},
	'M': {0x7F, 0x02, 0x0C, 0x02, 0x7F}, 'N': {0x7F, 0x04, 0x08, 0x10, 0x7F},
	'O': {0x3E, 0x41, 0x41, 0x41, 0x3E}, 'P': {0x7F, 0x09, 0x09, 0x09, 0x06},
	'Q': {0x3E, 0x41, 0x51, 0x21, 0x5E}, 'R': {0x7F, 0x09, 0x19, 0x29, 0x46},
	'S': {0x46, 0x49, 0x49, 0x49, 0x31}, 'T': {0x01, 0x01, 0x7F, 0x01, 0x01},
	'U': {0x3F, 0x40, 0x40, 0x40, 0x3F}, 'V': {0x1F, 0x20, 0x40, 0x20, 0x1F},
	'W': {0x3F, 0x40, 0x38, 0x40, 0x3F}, 'X': {0x63, 0x14, 0x08, 0x14, 0x63},
	'Y': {0x07, 0x08, 0x70, 0x08, 0x07}, 'Z': {0x61, 0x51, 0x49, 0x45, 0x43},
	'.': {0x00, 0x60, 0x60, 0x00, 0x00}, ',': {0x00, 0x50, 0x30, 0x00, 0x00},
	':': {0x00, 0x36, 0x36, 0x00, 0x00}, '-': {0x08, 0x08, 0x08, 0x08, 0x08},
	'+': {0x08, 0x08, 0x3E, 0x08, 0x08}, '=': {0x14, 0x14, 0x14, 0x14, 0x14},
	'/': {0x20, 0x10, 0x08, 0x04, 0x02}, '%': {0x23, 0x13, 0x08, 0x64, 0x62},
	'(': {0x00, 0x1C, 0x22, 0x41, 0x00}, ')': {0x00, 0x41, 0x22, 0x1C, 0x00},
	'<': {0x08, 0x14, 0x22, 0x41, 0x00}, '>': {0x00, 0x41, 0x22, 0x14, 0x08},
	'_': {0x40, 0x40, 0x40, 0x40, 0x40}, '?': {0x02, 0x01, 0x51, 0x09, 0x06},
}
