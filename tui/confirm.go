package tui

import (
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// confirmDialog asks before a destructive action. Only y confirms; every
// other key (enter included) cancels, so No is the default.
type confirmDialog struct {
	prompt string
	yes    func() tea.Cmd
	no     func() // optional: runs when the dialog is cancelled
}

func (d *confirmDialog) view(st Styles) string {
	return st.Dialog.Render(lipgloss.JoinVertical(lipgloss.Left,
		st.Warn.Render(d.prompt)+" y/N",
		st.Faint.Render("y confirms · any other key cancels")))
}
