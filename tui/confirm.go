package tui

import (
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// confirmDialog asks before a destructive action. Only y confirms; every
// other key (enter included) cancels, so No is the default.
type confirmDialog struct {
	prompt string
	detail string   // optional second line (a maintenance reason)
	lines  []string // optional lines under it (the keys a delete takes)
	yes    func() tea.Cmd
	no     func() // optional: runs when the dialog is cancelled
}

// view draws the dialog's box within w columns.
func (d *confirmDialog) view(st Styles, w int) string {
	inner := max(w-4, 10) // the border and the padding take 4 columns
	lines := []string{st.Warn.Render(truncate(d.prompt, max(inner-4, 6))) + " y/N"}
	if d.detail != "" {
		lines = append(lines, truncate(d.detail, inner))
	}
	for _, l := range d.lines {
		lines = append(lines, truncate(l, inner))
	}
	lines = append(lines, st.Faint.Render(truncate("y confirms · any other key cancels", inner)))
	return st.Dialog.Render(lipgloss.JoinVertical(lipgloss.Left, lines...))
}
