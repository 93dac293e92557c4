package tui

import "github.com/charmbracelet/lipgloss"

// Styles are the console's semantic styles. Colours degrade to nothing
// under an Ascii colour profile, which the tests use.
type Styles struct {
	Title, Header, TabActive, Tab, Faint, Selected, Breadcrumb lipgloss.Style
	OK, Bad, Warn, Gone                                        lipgloss.Style
	Dialog, Error, Info                                        lipgloss.Style
}

func defaultStyles() Styles {
	return Styles{
		Title:      lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("12")),
		Header:     lipgloss.NewStyle().Bold(true),
		TabActive:  lipgloss.NewStyle().Bold(true).Reverse(true),
		Tab:        lipgloss.NewStyle().Faint(true),
		Faint:      lipgloss.NewStyle().Faint(true),
		Selected:   lipgloss.NewStyle().Reverse(true),
		Breadcrumb: lipgloss.NewStyle().Foreground(lipgloss.Color("14")),
		OK:         lipgloss.NewStyle().Foreground(lipgloss.Color("2")),
		Bad:        lipgloss.NewStyle().Foreground(lipgloss.Color("1")),
		Warn:       lipgloss.NewStyle().Foreground(lipgloss.Color("3")),
		Gone:       lipgloss.NewStyle().Foreground(lipgloss.Color("8")),
		Dialog:     lipgloss.NewStyle().Border(lipgloss.NormalBorder()).Padding(0, 1).BorderForeground(lipgloss.Color("3")),
		Error:      lipgloss.NewStyle().Foreground(lipgloss.Color("1")),
		Info:       lipgloss.NewStyle().Foreground(lipgloss.Color("6")),
	}
}
