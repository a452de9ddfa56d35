#!/usr/bin/python3
"""A FUSE file system over a directory that can be made to fail like a dead disk.

    faulty_disk.py <backing directory> <mount point> <switch file>

Every operation is passed through to the backing directory. While the switch
file exists, every operation that would change what is stored (writes, syncs,
creating, removing, renaming, truncating) fails with EIO, as on a disk that
has died under the file system; reads still work. The harness's disk-fail
nemesis creates the switch file and removes it to heal. The kernel here has
no device-mapper, whose error and flakey targets would do this below a real
file system (see jepsen/README.md).

Runs in the foreground until the mount point is unmounted. Needs Debian's
python3-fusepy (which brings libfuse2).
"""
import errno
import os
import sys

from fusepy import FUSE, FuseOSError, Operations


class FaultyDisk(Operations):
    use_ns = True

    def __init__(self, backing, switch):
        self.backing = backing
        self.switch = switch

    def _path(self, path):
        return os.path.join(self.backing, path.lstrip("/"))

    def _change(self):
        """Called before anything that changes what is stored: fails while the disk is dead."""
        if os.path.exists(self.switch):
            raise FuseOSError(errno.EIO)

    # What reads the disk, always allowed.

    def access(self, path, amode):
        if not os.access(self._path(path), amode):
            raise FuseOSError(errno.EACCES)

    def getattr(self, path, fh=None):
        st = os.fstat(fh) if fh is not None else os.lstat(self._path(path))
        keys = ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_atime_ns", "st_mtime_ns", "st_ctime_ns", "st_blocks")
        attrs = {key.replace("_ns", ""): getattr(st, key) for key in keys}
        return attrs

    def readdir(self, path, fh):
        return [".", ".."] + os.listdir(self._path(path))

    def readlink(self, path):
        return os.readlink(self._path(path))

    def statfs(self, path):
        st = os.statvfs(self._path(path))
        keys = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files", "f_flag", "f_frsize", "f_namemax")
        return {key: getattr(st, key) for key in keys}

    def open(self, path, flags):
        if flags & os.O_TRUNC:
            self._change()
        return os.open(self._path(path), flags)

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        os.close(fh)

    # What changes the disk, failing while it is dead.

    def write(self, path, data, offset, fh):
        self._change()
        return os.pwrite(fh, data, offset)

    def fsync(self, path, datasync, fh):
        self._change()
        if datasync:
            os.fdatasync(fh)
        else:
            os.fsync(fh)

    def fsyncdir(self, path, datasync, fh):
        self._change()
        fd = os.open(self._path(path), os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def create(self, path, mode, fi=None):
        self._change()
        return os.open(self._path(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)

    def truncate(self, path, length, fh=None):
        self._change()
        if fh is not None:
            os.ftruncate(fh, length)
        else:
            os.truncate(self._path(path), length)

    def mkdir(self, path, mode):
        self._change()
        os.mkdir(self._path(path), mode)

    def rmdir(self, path):
        self._change()
        os.rmdir(self._path(path))

    def unlink(self, path):
        self._change()
        os.unlink(self._path(path))

    def rename(self, old, new):
        self._change()
        os.rename(self._path(old), self._path(new))

    def link(self, target, source):
        self._change()
        os.link(self._path(source), self._path(target))

    def symlink(self, target, source):
        self._change()
        os.symlink(source, self._path(target))

    def chmod(self, path, mode):
        self._change()
        os.chmod(self._path(path), mode)

    def chown(self, path, uid, gid):
        self._change()
        os.chown(self._path(path), uid, gid)

    def utimens(self, path, times=None):
        self._change()
        os.utime(self._path(path), ns=times)


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: faulty_disk.py <backing directory> <mount point> <switch file>")
    backing, mountpoint, switch = sys.argv[1:]
    # Writes of up to 128 KiB in one request (libfuse 2 sends 4 KiB ones otherwise).
    FUSE(FaultyDisk(os.path.abspath(backing), os.path.abspath(switch)), mountpoint, foreground=True, big_writes=True, max_write=131072, fsname="rkvfaulty")


if __name__ == "__main__":
    main()
