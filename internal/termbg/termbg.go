package termbg

import (
	"os"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

func init() {
	// Most terminals are dark; the console corrects this in Detect.
	lipgloss.SetHasDarkBackground(true)
}

// Detect asks the terminal on stdout for its background colour and tells
// lipgloss. Call it right before a console starts; it returns at once when
// stdout is not a terminal.
func Detect() {
	lipgloss.SetHasDarkBackground(termenv.NewOutput(os.Stdout).HasDarkBackground())
}
