// Package node is the consulx agent: configuration, lifecycle, the LAN gossip
// pool (hashicorp/serf over memberlist), Raft on servers, and the internal
// RPC that forwards requests client → server → leader.
//
// It owns the rules of who answers what (consistency modes, leader holds,
// bootstrap-expect) but not the data itself, which lives in package store,
// nor the HTTP surface, which lives in package httpapi.
package node
