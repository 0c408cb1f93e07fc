import Glibc

/// inotify for followed files: a write, truncation, rename or removal of a followed file makes
/// the worker look at it at once instead of at its next `poll-interval` check, which stays as
/// the backstop (filesystems where inotify sees nothing, such as remote writes on NFS). One
/// inotify descriptor per worker, read through its ring like every other descriptor.
struct FileNotify {
    var fd: Int32 = -1
    var armed = false
    /// Watch descriptor → file index (a file keeps its watch across its rotations' reopen).
    var files: [Int32: Int] = [:]
    /// Directory watch descriptor → the followed files in that directory (a new file under a
    /// followed path is opened at once: `lookAtPath`).
    var directories: [Int32: [Int]] = [:]
    let buffer: UnsafeMutableRawPointer = .allocate(byteCount: FileNotify.bufferBytes, alignment: 8)
    var failed = false

    static let bufferBytes = 16 << 10
    static let mask = UInt32(IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)
    static let directoryMask = UInt32(IN_CREATE | IN_MOVED_TO | IN_ONLYDIR)
}

extension FileFamily {
    /// Watches followed file `f` (its current inode, by path); opens the inotify descriptor on
    /// first use. Without inotify the file is polled as before.
    func watchFile(_ f: Int, _ context: InputContext) {
        guard files[f].follow, !files[f].isStdin, !notify.failed else { return }
        if notify.fd < 0 {
            let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
            guard fd >= 0 else {
                notify.failed = true
                Log.warn("input file", "\(SystemError.lastErrno("inotify_init1")): followed files are checked every poll-interval only")
                return
            }
            notify.fd = fd
        }
        if files[f].watch >= 0 { unwatchFile(f) }
        let wd = inotify_add_watch(notify.fd, files[f].path, FileNotify.mask)
        guard wd >= 0 else {
            Log.warn("input file", "\(SystemError.lastErrno("inotify_add_watch \(files[f].path)")): this file is checked every poll-interval only")
            return
        }
        files[f].watch = wd
        notify.files[wd] = f
        watchDirectory(f, context)
        if !notify.armed { armNotify(context) }
    }

    /// Watches the directory of followed file `f` for files created or moved in, once per
    /// file (a directory's watch descriptor is shared by its files).
    func watchDirectory(_ f: Int, _ context: InputContext) {
        guard files[f].maxRotated > 0, notify.fd >= 0 else { return }
        if notify.directories.values.contains(where: { $0.contains(f) }) { return }
        let path = files[f].path
        let directory = path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let wd = inotify_add_watch(notify.fd, directory, FileNotify.directoryMask)
        guard wd >= 0 else { return }  // the poll-interval check still finds new files
        notify.directories[wd, default: []].append(f)
    }

    func unwatchFile(_ f: Int) {
        let wd = files[f].watch
        guard wd >= 0 else { return }
        files[f].watch = -1
        // The same inode followed twice on one worker shares one watch, which names the last
        // file that added it; the other one is then polled only.
        if notify.files[wd] == f {
            notify.files[wd] = nil
            inotify_rm_watch(notify.fd, wd)
        }
    }

    func armNotify(_ context: InputContext) {
        context.ring.read(fd: notify.fd, into: notify.buffer, count: FileNotify.bufferBytes, offset: UInt64.max, userData: FileFamily.userData(.notify, 0))
        notify.armed = true
    }

    /// inotify events: every watched file they name that waits at its end is due now.
    func notifyCompleted(result: Int32, _ context: InputContext) {
        notify.armed = false
        if result < 0 {
            if result == -EAGAIN || result == -EINTR { armNotify(context); return }
            if result == -ECANCELED { return }
            notify.failed = true
            Log.warn("input file", "\(SystemError(negated: result, operation: "read inotify")): followed files are checked every poll-interval only")
            return
        }
        var offset = 0
        let headerBytes = MemoryLayout<inotify_event>.size
        while offset + headerBytes <= Int(result) {
            let event = (notify.buffer + offset).loadUnaligned(as: inotify_event.self)
            if event.mask & UInt32(IN_Q_OVERFLOW) != 0 {
                for i in activeFiles where files[i].waitingForData { files[i].eofSince = 0 }
            } else if let f = notify.files[event.wd], f < files.count, files[f].waitingForData {
                files[f].eofSince = 0  // due at once (issueReads compares with eofSince + poll-interval)
            } else if let list = notify.directories[event.wd], event.len > 0 {
                // A file created or moved into a directory of followed files: is it one of their paths?
                let bytes = UnsafeRawBufferPointer(start: notify.buffer + offset + headerBytes, count: Int(event.len))
                let name = "/" + String(decoding: bytes[..<(bytes.firstIndex(of: 0) ?? bytes.count)], as: UTF8.self)
                for f in list where f < files.count && !files[f].finished && ("/" + files[f].path).hasSuffix(name) {
                    lookAtPath(f, context)
                    if files[f].waitingForData { files[f].eofSince = 0 }
                }
            }
            offset += headerBytes + Int(event.len)
        }
        if !context.stopping { armNotify(context) }
    }
}

