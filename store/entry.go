package store

import (
	"encoding/binary"
	"errors"
)

// KVEntry is one key of the KV table, shaped like Consul's KVPair.
type KVEntry struct {
	Key         string
	Value       []byte
	Flags       uint64
	CreateIndex uint64
	ModifyIndex uint64
	LockIndex   uint64
	Session     string
}

// encode packs an entry compactly: buntdb stores strings, and JSON would
// cost both space and CPU on the write path for no reader's benefit.
func (e *KVEntry) encode() string {
	buf := make([]byte, 0, 5*binary.MaxVarintLen64+len(e.Session)+len(e.Value))
	buf = binary.AppendUvarint(buf, e.Flags)
	buf = binary.AppendUvarint(buf, e.CreateIndex)
	buf = binary.AppendUvarint(buf, e.ModifyIndex)
	buf = binary.AppendUvarint(buf, e.LockIndex)
	buf = binary.AppendUvarint(buf, uint64(len(e.Session)))
	buf = append(buf, e.Session...)
	buf = append(buf, e.Value...)
	return string(buf)
}

var errCorrupt = errors.New("store: corrupt KV entry")

func decodeEntry(key, s string) (KVEntry, error) {
	b := []byte(s)
	e := KVEntry{Key: key}
	fields := []*uint64{&e.Flags, &e.CreateIndex, &e.ModifyIndex, &e.LockIndex}
	for _, f := range fields {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return e, errCorrupt
		}
		*f = v
		b = b[n:]
	}
	sl, n := binary.Uvarint(b)
	if n <= 0 || uint64(len(b)-n) < sl {
		return e, errCorrupt
	}
	b = b[n:]
	e.Session = string(b[:sl])
	if rest := b[sl:]; len(rest) > 0 {
		e.Value = rest
	}
	return e, nil
}
