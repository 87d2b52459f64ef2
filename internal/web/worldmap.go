package web

import (
	"fmt"
	"html"
	"html/template"
	"strings"

	"github.com/poolctl/poolctl/api"
)

// The map uses the equirectangular projection: x = longitude + 180,
// y = 90 − latitude, in degrees, cropped to latitudes 85 to −60.
const mapViewBox = "0 5 360 145"

type worldPaths struct{ land, water string }

// worldPath turns the embedded outline into SVG path data, once.
func worldPath() worldPaths {
	return worldPaths{land: pathOf(worldLand), water: pathOf(worldWater)}
}

func pathOf(polys [][]float32) string {
	var b strings.Builder
	for _, p := range polys {
		for i := 0; i+1 < len(p); i += 2 {
			cmd := 'L'
			if i == 0 {
				cmd = 'M'
			}
			fmt.Fprintf(&b, "%c%.1f %.1f", cmd, p[i]+180, 90-p[i+1])
		}
		b.WriteByte('Z')
	}
	return b.String()
}

// worldMap draws the map with the members that have a location, coloured
// by state. The picture is described in words for screen readers.
func (h *Handler) worldMap(ms []api.Member) template.HTML {
	var b strings.Builder
	var placed []string
	for _, m := range ms {
		if m.Location.Lat == nil || m.Location.Lon == nil {
			continue
		}
		where := m.Location.Text
		if where == "" {
			where = fmt.Sprintf("%.2f, %.2f", *m.Location.Lat, *m.Location.Lon)
		}
		placed = append(placed, fmt.Sprintf("%s (%s) in %s", m.Name, m.Status, where))
	}
	label := "World map; no member has a location yet."
	if len(placed) > 0 {
		label = "World map of members: " + strings.Join(placed, "; ") + "."
	}
	fmt.Fprintf(&b, `<svg class="worldmap" viewBox="%s" preserveAspectRatio="xMidYMid meet" role="img" aria-label="%s">`,
		mapViewBox, html.EscapeString(label))
	fmt.Fprintf(&b, `<path class="land" d="%s"/><path class="sea" d="%s"/>`, h.worldSVG.land, h.worldSVG.water)
	for _, m := range ms {
		if m.Location.Lat == nil || m.Location.Lon == nil {
			continue
		}
		x, y := *m.Location.Lon+180, 90-*m.Location.Lat
		fmt.Fprintf(&b, `<circle class="dot s-%s" cx="%.2f" cy="%.2f" r="2.6" data-member="%s"><title>%s — %s</title></circle>`,
			html.EscapeString(m.Status), x, y, html.EscapeString(m.Name), html.EscapeString(m.Name), html.EscapeString(stateText(m.Status)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every interpolated value above is escaped
}
