package kvcheck

import "strings"

// transaction draws a MULTI/EXEC of 2 to 4 of the RESP commands on 2 to 4
// distinct keys, each key in it at least once; Workload.Watched percent of
// them first WATCH one or two of those keys and read them.
func (g *Generator) transaction() Input {
	keys := g.w.Keys()
	perm := g.rng.Perm(len(keys))
	nKeys := min(len(keys), 2+g.rng.IntN(3))
	nCommands := max(nKeys, 2+g.rng.IntN(3))
	picked := make([]string, nKeys)
	for i := range picked {
		picked[i] = keys[perm[i]]
	}
	in := Input{Kind: Transaction, MaxRunes: g.w.MaxRunes}
	if g.chance(g.w.Watched) {
		in.Watch = 1 + g.rng.IntN(min(2, nKeys))
		for _, k := range picked[:in.Watch] {
			in.Commands = append(in.Commands, Input{Kind: Get, Key: k, MaxRunes: g.w.MaxRunes})
		}
	}
	for i := range nCommands {
		key := picked[g.rng.IntN(nKeys)]
		if i < nKeys {
			key = picked[i]
		}
		c := Input{Key: key}
		g.fill(&c, "resp", strings.HasPrefix(key, g.w.Prefix+"n"))
		in.Commands = append(in.Commands, c)
	}
	return in
}
