// Package termbg keeps CLI commands from querying the terminal's
// background colour when the program starts.
//
// Bubble Tea v1's package init asks lipgloss whether the background is
// dark, and termenv answers that by writing an OSC 11 query to the terminal
// and reading stdin until the reply comes (up to 5 s when the terminal does
// not answer). While it waits it throws away whatever the user typed or
// pasted, so `consulx kv put ...; consulx members` pasted into an older
// shell lost its second line, and every command paid for the round trip.
//
// Imported for its side effect by package main, termbg's init runs after
// lipgloss's and before Bubble Tea's (Go initialises packages in import
// path order once their imports are done, and "consulx/..." sorts before
// "github.com/..."): it pins a dark background, so nothing is asked at
// start. The console calls Detect just before it takes the terminal, which
// is the one time the answer matters and nobody is typing ahead.
package termbg
