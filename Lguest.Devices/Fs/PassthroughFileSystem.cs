using System.Runtime.InteropServices;
using Lguest.Devices.Interop;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Devices;

/// <summary>
/// A host folder as the guest's file system. Every node holds an O_PATH handle of its host inode; every name
/// the guest sends is resolved by the kernel relative to its parent's handle with openat2 and
/// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, the last component never followed, and every
/// change is an *at call relative to the parent's handle: no path string is ever built, so neither "..", a
/// symbolic link the guest (or the host) planted, nor a directory swapped for a link mid-request can take a
/// call outside the folder. See the folder's README for the threat model.
/// </summary>
internal sealed partial class PassthroughFileSystem : IFileSystem
{
    /// <summary>PATH_MAX: the longest symbolic link target (NUL included) the server reads or writes.</summary>
    public const int MaxLinkTarget = 4096;

    // How names are resolved: beneath the parent, no symbolic link followed anywhere (the last component,
    // opened O_PATH | O_NOFOLLOW, is the link itself), no /proc magic link.
    private const ulong ContainedResolve = FsLibc.ResolveBeneath | FsLibc.ResolveNoSymlinks | FsLibc.ResolveNoMagiclinks;

    // What the guest's open flags may carry to the host; the rest (O_CREAT, O_EXCL, O_DIRECTORY, O_PATH,
    // O_TMPFILE, O_NOATIME, O_DIRECT, O_ASYNC) is the server's business or the guest's page cache's.
    private const int PassedOpenFlags = FsLibc.OAccmode | FsLibc.OAppend | FsLibc.OTrunc | FsLibc.OSync | FsLibc.ODsync;

    // Added to every open: a FIFO or device can never block the worker or become our terminal.
    private const int ForcedOpenFlags = FsLibc.OCloexec | FsLibc.ONonblock | FsLibc.ONoctty;

    // The permission bits a guest may set: no set-user-ID or set-group-ID file is made on the host (where the
    // launcher may run as root), the sticky bit is kept.
    private const uint PermissionBits = 0xfff & ~(FsLibc.SIsuid | FsLibc.SIsgid);

    private readonly InodeTable _inodes;
    private readonly HandleTable _handles;
    private readonly FsDescriptor _procFds;
    private readonly ulong _validSeconds;
    private readonly uint _validNanoseconds;
    private readonly uint _umask;
    private readonly string _name;
    private readonly ILogger _logger;
    private int _warnedInodes;
    private int _warnedHandles;

    /// <summary>Opens <paramref name="root"/> as the share's root.</summary>
    /// <param name="root">The host folder.</param>
    /// <param name="maxInodes">The most nodes the guest may hold at once (the root included).</param>
    /// <param name="maxHandles">The most files and directories the guest may have open at once.</param>
    /// <param name="cacheTimeout">How long the guest may cache names and attributes.</param>
    /// <param name="name">The device's name in log messages.</param>
    /// <param name="logger">Where the caps being reached are reported.</param>
    /// <exception cref="SharedDirectoryException">The folder cannot be opened, or /proc/self/fd is missing.</exception>
    public PassthroughFileSystem(string root, int maxInodes, int maxHandles, TimeSpan cacheTimeout, string name = "fs", ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxInodes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxHandles, 1);
        _name = name;
        _logger = logger ?? NullLogger.Instance;
        _validSeconds = (ulong)cacheTimeout.Ticks / TimeSpan.TicksPerSecond;
        _validNanoseconds = (uint)((ulong)cacheTimeout.Ticks % TimeSpan.TicksPerSecond * 100);
        _umask = ProcessUmask();

        var rootHandle = OpenHost(root, FsLibc.OPath | FsLibc.ODirectory | FsLibc.OCloexec, root, "cannot open it");
        if (Stat(rootHandle, out Statx status) is int error and not 0)
        {
            rootHandle.Dispose();
            throw new SharedDirectoryException(root, Marshal.GetPInvokeErrorMessage(error));
        }
        try
        {
            _procFds = OpenHost("/proc/self/fd", FsLibc.OPath | FsLibc.ODirectory | FsLibc.OCloexec, root,
                "cannot open /proc/self/fd, which opening shared files needs (is /proc mounted?)");
        }
        catch
        {
            rootHandle.Dispose();
            throw;
        }
        _inodes = new InodeTable(new Inode(FuseConstants.RootId, rootHandle, status.Device, status.Inode, FsLibc.SIfdir) { Lookups = 1 }, maxInodes);
        _handles = new HandleTable(maxHandles);
        // Room for both tables besides what the process already has open (the rest of the launcher needs some).
        ulong wanted = (ulong)maxInodes + (ulong)maxHandles + (ulong)Math.Max(OpenDescriptors(), 0) + DescriptorReserve;
        long limit = FileLimit.Raise(wanted);
        if (limit >= 0 && (ulong)limit < wanted)
            _logger.DescriptorLimitLow(_name, limit, maxInodes, maxHandles);
    }

    /// <summary>Descriptors the rest of the process may need beside the tables (its own files, eventfds, a tap).</summary>
    private const ulong DescriptorReserve = 256;

    /// <summary>Nodes held (the root included), for tests and diagnostics.</summary>
    public int InodeCount => _inodes.Count;

    /// <summary>Handles open, for tests and diagnostics.</summary>
    public int HandleCount => _handles.Count;

    public void Destroy()
    {
        _handles.Clear();
        _inodes.Clear();
    }

    public void Dispose()
    {
        _handles.Dispose();
        _inodes.Dispose();
        _procFds.Dispose();
    }

    private static FsDescriptor OpenHost(string path, int flags, string share, string reason)
    {
        int fd = FsLibc.Open(path, flags);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new SharedDirectoryException(share, errno == Errno.ENOTDIR ? "not a directory" : $"{reason}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        return new FsDescriptor(fd);
    }

    // The process's umask, which the kernel applies to every mode the guest asks for: known, the server can
    // put back the bits it removed. Read from /proc/self/status (umask(2) cannot read it without setting it,
    // a race with other threads); unknown, every mode is put back.
    private static uint ProcessUmask()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("Umask:", StringComparison.Ordinal))
                    return Convert.ToUInt32(line["Umask:".Length..].Trim(), 8);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            // Unknown: every mode is put back.
        }
        return 0x1ff;
    }

    private static int LastErrno() => Marshal.GetLastPInvokeError();

    private static int OpenDescriptors()
    {
        try
        {
            return Directory.GetFileSystemEntries("/proc/self/fd").Length;
        }
        catch (IOException)
        {
            return -1;
        }
    }

    private static int Stat(FsDescriptor handle, out Statx status) =>
        FsLibc.StatxAt(handle, "\0"u8, FsLibc.AtEmptyPath | FsLibc.AtSymlinkNofollow, FsLibc.StatxBasicStats, out status) == 0 ? 0 : LastErrno();

    private static FuseAttr ToAttr(in Statx s) => new()
    {
        Ino = s.Inode,
        Size = s.FileSize,
        Blocks = s.Blocks,
        Atime = (ulong)s.AccessTime.Seconds,
        Mtime = (ulong)s.ModifyTime.Seconds,
        Ctime = (ulong)s.ChangeTime.Seconds,
        AtimeNsec = s.AccessTime.Nanoseconds,
        MtimeNsec = s.ModifyTime.Nanoseconds,
        CtimeNsec = s.ChangeTime.Nanoseconds,
        Mode = s.Mode,
        Nlink = s.LinkCount,
        Uid = s.Uid,
        Gid = s.Gid,
        Rdev = s.EncodedRdev,
        BlockSize = s.BlockSize,
    };

    private FuseEntryOut Entry(Inode inode, in Statx status) => new()
    {
        NodeId = inode.NodeId,
        EntryValid = _validSeconds,
        EntryValidNsec = _validNanoseconds,
        AttrValid = _validSeconds,
        AttrValidNsec = _validNanoseconds,
        Attr = ToAttr(status),
    };

    private FuseAttrOut AttrOut(in Statx status) => new() { AttrValid = _validSeconds, AttrValidNsec = _validNanoseconds, Attr = ToAttr(status) };

    // The node the guest names (EBADF: one it never had or has forgotten), and one that must be a directory.
    private int FindNode(ulong node, out Inode inode) => _inodes.TryGet(node, out inode) ? 0 : Errno.EBADF;

    private int FindDirectory(ulong node, out Inode inode)
    {
        if (!_inodes.TryGet(node, out inode))
            return Errno.EBADF;
        return inode.IsDirectory ? 0 : Errno.ENOTDIR;
    }

    /// <summary>
    /// The lookup itself: <paramref name="path"/> (NUL-terminated) resolved by the kernel beneath
    /// <paramref name="parent"/>'s handle, nothing followed, then counted in the table. Internal so a test can
    /// hand it what <see cref="FileName"/> refuses ("..", "a/../..", a link's name followed by "/x") and see the
    /// kernel refuse it too.
    /// </summary>
    internal int LookupIn(Inode parent, ReadOnlySpan<byte> path, out FuseEntryOut entry)
    {
        entry = default;
        int fd = FsLibc.Openat2(parent.Handle, path, new OpenHow { Flags = FsLibc.OPath | FsLibc.ONofollow | FsLibc.OCloexec, Resolve = ContainedResolve });
        if (fd < 0)
            return LastErrno();
        return Register(new FsDescriptor(fd), out entry, out _);
    }

    /// <summary>
    /// <see cref="LookupIn"/> from a node id and a string, for tests: the kernel's containment on its own,
    /// without <see cref="FileName"/>'s rule in front of it.
    /// </summary>
    internal int LookupTestHook(ulong parent, string path, out FuseEntryOut entry)
    {
        entry = default;
        if (FindDirectory(parent, out Inode directory) is int error and not 0)
            return error;
        byte[] terminated = [.. System.Text.Encoding.UTF8.GetBytes(path), 0];
        return LookupIn(directory, terminated, out entry);
    }

    // Counts one lookup of the inode a fresh O_PATH handle refers to.
    private int Register(FsDescriptor handle, out FuseEntryOut entry, out Inode inode)
    {
        entry = default;
        inode = null!;
        if (Stat(handle, out Statx status) is int error and not 0)
        {
            handle.Dispose();
            return error;
        }
        int result = _inodes.Register(handle, status, out inode, out bool full);
        if (full && Interlocked.Exchange(ref _warnedInodes, 1) == 0)
            _logger.InodeCapReached(_name, _inodes.Count);
        if (result == 0)
            entry = Entry(inode, status);
        return result;
    }

    private int AddHandle(FsDescriptor descriptor, Inode inode, bool directory, int flags, out ulong handle)
    {
        int result = _handles.Add(new OpenHandle(descriptor, inode, directory, flags), out handle, out bool full);
        if (full && Interlocked.Exchange(ref _warnedHandles, 1) == 0)
            _logger.HandleCapReached(_name, _handles.Count);
        return result;
    }

    /// <summary>Opens the inode for I/O through /proc/self/fd/N of its own O_PATH handle (there is no reopen call).</summary>
    private int Reopen(Inode inode, int flags, out FsDescriptor descriptor)
    {
        descriptor = null!;
        Span<byte> buffer = stackalloc byte[16];
        int fd;
        using (var proc = new ProcFdName(inode.Handle, buffer))
            fd = FsLibc.Openat2(_procFds, proc.Name, new OpenHow { Flags = (ulong)(uint)flags });
        if (fd < 0)
            return LastErrno();
        descriptor = new FsDescriptor(fd);
        return 0;
    }

    /// <summary>Sets the permission bits of an inode that is not a symbolic link (fchmodat has no AT_EMPTY_PATH form).</summary>
    private int Chmod(Inode inode, uint mode)
    {
        Span<byte> buffer = stackalloc byte[16];
        using var proc = new ProcFdName(inode.Handle, buffer);
        return FsLibc.Fchmodat(_procFds, proc.Name, mode, 0) == 0 ? 0 : LastErrno();
    }

    /// <summary>
    /// After a call that made an inode with <paramref name="permissions"/>: puts back the bits the process's
    /// umask took (the guest applied its own umask already), keeping a set-group-ID bit the new inode inherited.
    /// </summary>
    private int RestorePermissions(ref FuseEntryOut entry, uint permissions)
    {
        if ((permissions & _umask) == 0 || !_inodes.TryGet(entry.NodeId, out Inode inode) || inode.IsSymlink)
            return 0;
        uint mode = permissions | (entry.Attr.Mode & FsLibc.SIsgid);
        int error = Chmod(inode, mode);
        if (error == 0)
            entry.Attr.Mode = (entry.Attr.Mode & ~0xfffu) | mode;
        return error;
    }

    private static int ErrnoOf(IOException e) => e.HResult is > 0 and < 4096 ? e.HResult : Errno.EIO;
}
