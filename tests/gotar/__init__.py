"""The Go reference reader for tar (main.go) and raw tar builders for the tar tests."""
