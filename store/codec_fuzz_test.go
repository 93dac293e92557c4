package store

import (
	"reflect"
	"testing"
)

// FuzzDecodeBinaryCommand: no input makes the decoders panic, and what
// they accept survives encoding and decoding again unchanged.
func FuzzDecodeBinaryCommand(f *testing.F) {
	kv := KVRequest{Op: KVSet, Entry: KVEntry{Key: "a/b", Value: []byte("v"), Flags: 3, Session: "s"}}
	f.Add(kv.appendBinary(nil))
	f.Add(TxnRequest{Ops: []KVRequest{kv, {Op: KVDelete, Entry: KVEntry{Key: "x"}}}}.appendBinary(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		var k, k2 KVRequest
		if k.decodeBinary(b) == nil {
			if err := k2.decodeBinary(k.appendBinary(nil)); err != nil || !reflect.DeepEqual(k, k2) {
				t.Fatalf("KV %x decodes to %+v, then %+v (%v)", b, k, k2, err)
			}
		}
		var tx, tx2 TxnRequest
		if tx.decodeBinary(b) == nil {
			if err := tx2.decodeBinary(tx.appendBinary(nil)); err != nil || !reflect.DeepEqual(tx, tx2) {
				t.Fatalf("txn %x decodes to %+v, then %+v (%v)", b, tx, tx2, err)
			}
		}
	})
}
