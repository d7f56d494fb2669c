// Package keyspace is the key set the bench tools agree on: bench/preload
// writes it, bench/wrk/kv.lua and bench/sharedload read it back and check
// the values, and bench/flood draws its large keys from the same generator.
// A change here changes what every one of them reads and writes.
package keyspace

import "fmt"

// alphabet is 64 characters that need no escaping in JSON or a URL, so that
// 6 random bits make one character.
const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// Key is key i of the preloaded set: "k" and i zero-padded to keyLen
// characters, as bench/wrk/kv.lua spells it.
func Key(i, keyLen int) string { return fmt.Sprintf("k%0*d", keyLen-1, i) }

// AppendValue appends the n-character value of key i of the preloaded set.
// Values differ per key, so a compressing or deduplicating store gains
// nothing from them.
func AppendValue(b []byte, i uint64, n int) []byte { return AppendRandom(b, i, n) }

// AppendRandom appends n characters of alphabet drawn from a splitmix64
// stream seeded with seed.
func AppendRandom(b []byte, seed uint64, n int) []byte {
	x := seed
	for n > 0 {
		r := splitmix64(&x)
		for j := 0; j < 10 && n > 0; j++ {
			b = append(b, alphabet[r&63])
			r >>= 6
			n--
		}
	}
	return b
}

func splitmix64(x *uint64) uint64 {
	*x += 0x9e3779b97f4a7c15
	z := *x
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
