package main

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// inForegroundGroup reports whether this process belongs to the foreground
// process group of the terminal open on fd. A background job (`consulx
// agent ... &`) that put the terminal into raw mode for the console would
// be stopped by SIGTTOU ("Stopped (tty output)"), so only a foreground
// agent opens the console. tcgetpgrp itself is allowed from the background;
// it fails (ENOTTY) when fd is not this process's controlling terminal,
// where job control cannot hand us the terminal either.
func inForegroundGroup(fd int) bool {
	pgrp, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	return err == nil && pgrp == syscall.Getpgrp()
}
