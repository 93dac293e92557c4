package tui

import (
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// confirmDialog asks before a destructive action. Only y confirms; every
// other key (enter included) cancels, so No is the default.
type confirmDialog struct {
	prompt string
	detail string // optional second line (a maintenance reason)
	yes    func() tea.Cmd
	no     func() // optional: runs when the dialog is cancelled
}

func (d *confirmDialog) view(st Styles) string {
	lines := []string{st.Warn.Render(d.prompt) + " y/N"}
	if d.detail != "" {
		lines = append(lines, d.detail)
	}
	lines = append(lines, st.Faint.Render("y confirms · any other key cancels"))
	return st.Dialog.Render(lipgloss.JoinVertical(lipgloss.Left, lines...))
}
