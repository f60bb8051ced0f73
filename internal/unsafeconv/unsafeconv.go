// Package unsafeconv views bytes as a string and a string as bytes without
// copying: the module's one fenced use of package unsafe for that, shared
// by value, schema and replay. Built with the purego tag it copies instead
// (as cespare/xxhash offers a safe twin), which is slower but needs no
// unsafe and changes nothing a caller can observe, since callers never
// write a view.
//
// The caller's promise, for every view: the memory it shares is never
// written while the view (or anything carved from it) is in use.
package unsafeconv
