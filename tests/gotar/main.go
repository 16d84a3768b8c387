// Command gotar lists tar archives with Go's archive/tar, the reader Docker and containerd
// unpack layers with: the reference for ocianalyze's header walker (tests/test_tar_goparity.py).
//
// It reads one file path per line on standard input and writes one JSON line per path:
// {"entries": [...], "error": "...", "in_data": bool} where each entry is what Reader.Next
// returned; its data is then read to the end (as an applier copies a file; this is where Go
// checks that a sparse file's map matches its stored data). Names and link names are hex, as
// they are bytes; "applied" is the name cleaned as an applier joins it to the root. "error" is empty when Next ended with io.EOF; "in_data" tells that it came
// from reading the data of the last entry listed. A sparse file's holes read as zeros: an
// entry longer than 16 MiB is read that far only, and "unchecked" gives the index of the first
// such entry (or -1), so that a forged logical size of exabytes cannot stall the test.
package main

import (
	"archive/tar"
	"bufio"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
)

const budget = 1 << 24 // logical bytes read per entry

type entry struct {
	Name     string `json:"name"`
	Applied  string `json:"applied"` // the name an applier writes to, relative to the root
	Typeflag int    `json:"typeflag"`
	Size     int64  `json:"size"`
	Linkname string `json:"linkname"`
	Mode     int64  `json:"mode"`
	UID      int    `json:"uid"`
	GID      int    `json:"gid"`
	Mtime    int64  `json:"mtime"`
}

type result struct {
	Entries   []entry `json:"entries"`
	Error     string  `json:"error"`
	InData    bool    `json:"in_data"`
	Unchecked int     `json:"unchecked"`
}

// applied is the path Docker's and containerd's appliers write a member to, relative to the
// layer's root: both set hdr.Name = filepath.Clean(hdr.Name) and join it to the root.
func applied(name string) string {
	clean := strings.TrimLeft(filepath.Clean(name), "/")
	if clean == "" {
		return "."
	}
	return clean
}

func list(path string) result {
	res := result{Entries: []entry{}, Unchecked: -1}
	f, err := os.Open(path)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer f.Close()
	// not the *os.File itself: the reader would seek past data instead of reading it, as
	// layers arrive in a stream
	tr := tar.NewReader(bufio.NewReader(f))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return res
		}
		if err != nil {
			res.Error = err.Error()
			return res
		}
		res.Entries = append(res.Entries, entry{
			Name:     hex.EncodeToString([]byte(hdr.Name)),
			Applied:  hex.EncodeToString([]byte(applied(hdr.Name))),
			Typeflag: int(hdr.Typeflag),
			Size:     hdr.Size,
			Linkname: hex.EncodeToString([]byte(hdr.Linkname)),
			Mode:     hdr.Mode,
			UID:      hdr.Uid,
			GID:      hdr.Gid,
			Mtime:    hdr.ModTime.Unix(),
		})
		n, err := io.Copy(io.Discard, io.LimitReader(tr, budget))
		if err == nil && n == budget {
			var one [1]byte
			if more, err2 := tr.Read(one[:]); more > 0 {
				if res.Unchecked < 0 {
					res.Unchecked = len(res.Entries) - 1
				}
				continue // Next skips the rest of the stored data
			} else if err2 != io.EOF {
				err = err2
			}
		}
		if err != nil {
			res.Error, res.InData = err.Error(), true
			return res
		}
	}
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<16), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	for in.Scan() {
		if err := enc.Encode(list(in.Text())); err != nil {
			os.Exit(1)
		}
		if err := out.Flush(); err != nil {
			os.Exit(1)
		}
	}
}
