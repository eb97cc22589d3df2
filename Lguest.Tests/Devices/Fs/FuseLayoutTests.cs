using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lguest.Devices;
using Lguest.Devices.Interop;
using Lguest.Tests.Support;

namespace Lguest.Tests.Devices.Fs;

/// <summary>
/// The FUSE structs and numbers against this host's &lt;linux/fuse.h&gt;, and the host calls' structs and flags
/// against &lt;sys/stat.h&gt;, &lt;sys/vfs.h&gt;, &lt;fcntl.h&gt;, &lt;linux/openat2.h&gt; and &lt;errno.h&gt;: every size, every
/// field's offset, every constant, from the C compiler.
/// </summary>
public class FuseLayoutTests
{
    private static readonly string[] FuseHeaders = ["linux/fuse.h"];

    private static readonly string[] HostHeaders =
        ["fcntl.h", "errno.h", "sys/stat.h", "sys/vfs.h", "linux/openat2.h", "linux/stat.h", "linux/falloc.h", "stdio.h", "unistd.h", "sys/syscall.h"];

    // C struct name -> our struct, and C field name -> our field name, in order.
    private static readonly (string C, Type Ours, (string C, string Ours)[] Fields)[] Structs =
    [
        ("fuse_in_header", typeof(FuseInHeader), [("len", "Length"), ("opcode", "Opcode"), ("unique", "Unique"), ("nodeid", "NodeId"),
            ("uid", "Uid"), ("gid", "Gid"), ("pid", "Pid"), ("total_extlen", "TotalExtensionLength"), ("padding", "Padding")]),
        ("fuse_out_header", typeof(FuseOutHeader), [("len", "Length"), ("error", "Error"), ("unique", "Unique")]),
        ("fuse_attr", typeof(FuseAttr), [("ino", "Ino"), ("size", "Size"), ("blocks", "Blocks"), ("atime", "Atime"), ("mtime", "Mtime"),
            ("ctime", "Ctime"), ("atimensec", "AtimeNsec"), ("mtimensec", "MtimeNsec"), ("ctimensec", "CtimeNsec"), ("mode", "Mode"),
            ("nlink", "Nlink"), ("uid", "Uid"), ("gid", "Gid"), ("rdev", "Rdev"), ("blksize", "BlockSize"), ("flags", "Flags")]),
        ("fuse_entry_out", typeof(FuseEntryOut), [("nodeid", "NodeId"), ("generation", "Generation"), ("entry_valid", "EntryValid"),
            ("attr_valid", "AttrValid"), ("entry_valid_nsec", "EntryValidNsec"), ("attr_valid_nsec", "AttrValidNsec"), ("attr", "Attr")]),
        ("fuse_attr_out", typeof(FuseAttrOut), [("attr_valid", "AttrValid"), ("attr_valid_nsec", "AttrValidNsec"), ("dummy", "Dummy"), ("attr", "Attr")]),
        ("fuse_forget_in", typeof(FuseForgetIn), [("nlookup", "Lookups")]),
        ("fuse_forget_one", typeof(FuseForgetOne), [("nodeid", "NodeId"), ("nlookup", "Lookups")]),
        ("fuse_batch_forget_in", typeof(FuseBatchForgetIn), [("count", "Count"), ("dummy", "Dummy")]),
        ("fuse_getattr_in", typeof(FuseGetattrIn), [("getattr_flags", "Flags"), ("dummy", "Dummy"), ("fh", "Handle")]),
        ("fuse_mknod_in", typeof(FuseMknodIn), [("mode", "Mode"), ("rdev", "Rdev"), ("umask", "Umask"), ("padding", "Padding")]),
        ("fuse_mkdir_in", typeof(FuseMkdirIn), [("mode", "Mode"), ("umask", "Umask")]),
        ("fuse_rename_in", typeof(FuseRenameIn), [("newdir", "NewDirectory")]),
        ("fuse_rename2_in", typeof(FuseRename2In), [("newdir", "NewDirectory"), ("flags", "Flags"), ("padding", "Padding")]),
        ("fuse_link_in", typeof(FuseLinkIn), [("oldnodeid", "OldNodeId")]),
        ("fuse_setattr_in", typeof(FuseSetattrIn), [("valid", "Valid"), ("padding", "Padding"), ("fh", "Handle"), ("size", "Size"),
            ("lock_owner", "LockOwner"), ("atime", "Atime"), ("mtime", "Mtime"), ("ctime", "Ctime"), ("atimensec", "AtimeNsec"),
            ("mtimensec", "MtimeNsec"), ("ctimensec", "CtimeNsec"), ("mode", "Mode"), ("unused4", "Unused4"), ("uid", "Uid"),
            ("gid", "Gid"), ("unused5", "Unused5")]),
        ("fuse_open_in", typeof(FuseOpenIn), [("flags", "Flags"), ("open_flags", "OpenFlags")]),
        ("fuse_create_in", typeof(FuseCreateIn), [("flags", "Flags"), ("mode", "Mode"), ("umask", "Umask"), ("open_flags", "OpenFlags")]),
        ("fuse_open_out", typeof(FuseOpenOut), [("fh", "Handle"), ("open_flags", "OpenFlags"), ("padding", "Padding")]),
        ("fuse_release_in", typeof(FuseReleaseIn), [("fh", "Handle"), ("flags", "Flags"), ("release_flags", "ReleaseFlags"), ("lock_owner", "LockOwner")]),
        ("fuse_flush_in", typeof(FuseFlushIn), [("fh", "Handle"), ("unused", "Unused"), ("padding", "Padding"), ("lock_owner", "LockOwner")]),
        ("fuse_read_in", typeof(FuseReadIn), [("fh", "Handle"), ("offset", "Offset"), ("size", "Size"), ("read_flags", "ReadFlags"),
            ("lock_owner", "LockOwner"), ("flags", "Flags"), ("padding", "Padding")]),
        ("fuse_write_in", typeof(FuseWriteIn), [("fh", "Handle"), ("offset", "Offset"), ("size", "Size"), ("write_flags", "WriteFlags"),
            ("lock_owner", "LockOwner"), ("flags", "Flags"), ("padding", "Padding")]),
        ("fuse_write_out", typeof(FuseWriteOut), [("size", "Size"), ("padding", "Padding")]),
        ("fuse_kstatfs", typeof(FuseKstatfs), [("blocks", "Blocks"), ("bfree", "FreeBlocks"), ("bavail", "AvailableBlocks"), ("files", "Files"),
            ("ffree", "FreeFiles"), ("bsize", "BlockSize"), ("namelen", "NameLength"), ("frsize", "FragmentSize"), ("padding", "Padding"), ("spare", "Spare")]),
        ("fuse_fsync_in", typeof(FuseFsyncIn), [("fh", "Handle"), ("fsync_flags", "FsyncFlags"), ("padding", "Padding")]),
        ("fuse_access_in", typeof(FuseAccessIn), [("mask", "Mask"), ("padding", "Padding")]),
        ("fuse_fallocate_in", typeof(FuseFallocateIn), [("fh", "Handle"), ("offset", "Offset"), ("length", "Length"), ("mode", "Mode"), ("padding", "Padding")]),
        ("fuse_lseek_in", typeof(FuseLseekIn), [("fh", "Handle"), ("offset", "Offset"), ("whence", "Whence"), ("padding", "Padding")]),
        ("fuse_lseek_out", typeof(FuseLseekOut), [("offset", "Offset")]),
        ("fuse_dirent", typeof(FuseDirent), [("ino", "Ino"), ("off", "Offset"), ("namelen", "NameLength"), ("type", "Type")]),
        ("fuse_init_in", typeof(FuseInitIn), [("major", "Major"), ("minor", "Minor"), ("max_readahead", "MaxReadahead"), ("flags", "Flags"),
            ("flags2", "Flags2"), ("unused", "Unused")]),
        ("fuse_init_out", typeof(FuseInitOut), [("major", "Major"), ("minor", "Minor"), ("max_readahead", "MaxReadahead"), ("flags", "Flags"),
            ("max_background", "MaxBackground"), ("congestion_threshold", "CongestionThreshold"), ("max_write", "MaxWrite"),
            ("time_gran", "TimeGranularity"), ("max_pages", "MaxPages"), ("map_alignment", "MapAlignment"), ("flags2", "Flags2"), ("unused", "Unused")]),
    ];

    [Test]
    public void Every_FUSE_struct_has_the_C_headers_size_and_field_offsets()
    {
        var expressions = Structs.SelectMany(s => s.Fields.Select(f => $"offsetof(struct {s.C}, {f.C})").Prepend($"sizeof(struct {s.C})"));
        IReadOnlyDictionary<string, ulong> c = CLayout.Evaluate(FuseHeaders, expressions);
        Assert.Multiple(() =>
        {
            foreach ((string name, Type ours, (string C, string Ours)[] fields) in Structs)
            {
                Assert.That((ulong)SizeOf(ours), Is.EqualTo(c[$"sizeof(struct {name})"]), $"sizeof(struct {name})");
                foreach ((string field, string ourField) in fields)
                    Assert.That((ulong)Marshal.OffsetOf(ours, ourField), Is.EqualTo(c[$"offsetof(struct {name}, {field})"]), $"{name}.{field}");
            }
        });
    }

    [Test]
    public void The_FUSE_constants_match_the_C_header()
    {
        (string C, ulong Ours)[] checks =
        [
            ("FUSE_KERNEL_VERSION", FuseConstants.KernelVersion), ("FUSE_KERNEL_MINOR_VERSION", FuseConstants.KernelMinorVersion),
            ("FUSE_ROOT_ID", FuseConstants.RootId), ("FUSE_ASYNC_READ", FuseConstants.AsyncRead), ("FUSE_ATOMIC_O_TRUNC", FuseConstants.AtomicOTrunc),
            ("FUSE_BIG_WRITES", FuseConstants.BigWrites), ("FUSE_DO_READDIRPLUS", FuseConstants.DoReaddirplus),
            ("FUSE_READDIRPLUS_AUTO", FuseConstants.ReaddirplusAuto), ("FUSE_PARALLEL_DIROPS", FuseConstants.ParallelDirops),
            ("FUSE_MAX_PAGES", FuseConstants.MaxPages), ("FUSE_CACHE_SYMLINKS", FuseConstants.CacheSymlinks), ("FUSE_INIT_EXT", FuseConstants.InitExt),
            ("FATTR_MODE", FuseConstants.FattrMode), ("FATTR_UID", FuseConstants.FattrUid), ("FATTR_GID", FuseConstants.FattrGid),
            ("FATTR_SIZE", FuseConstants.FattrSize), ("FATTR_ATIME", FuseConstants.FattrAtime), ("FATTR_MTIME", FuseConstants.FattrMtime),
            ("FATTR_FH", FuseConstants.FattrFh), ("FATTR_ATIME_NOW", FuseConstants.FattrAtimeNow), ("FATTR_MTIME_NOW", FuseConstants.FattrMtimeNow),
            ("FUSE_GETATTR_FH", FuseConstants.GetattrFh), ("FUSE_FSYNC_FDATASYNC", FuseConstants.FsyncFdatasync),
            ("sizeof(struct fuse_in_header)", (ulong)FuseConstants.InHeaderSize), ("sizeof(struct fuse_out_header)", (ulong)FuseConstants.OutHeaderSize),
            ("sizeof(struct fuse_write_in)", (ulong)FuseConstants.WriteInSize), ("FUSE_NAME_OFFSET", (ulong)FuseConstants.DirentSize),
            ("FUSE_NAME_OFFSET_DIRENTPLUS", (ulong)FuseConstants.DirentplusSize),
        ];
        IReadOnlyDictionary<string, ulong> c = CLayout.Evaluate(FuseHeaders, checks.Select(x => x.C));
        Assert.Multiple(() =>
        {
            foreach ((string name, ulong ours) in checks)
                Assert.That(ours, Is.EqualTo(c[name]), name);
        });
    }

    [Test]
    public void Every_opcode_matches_enum_fuse_opcode()
    {
        FuseOpcode[] all = Enum.GetValues<FuseOpcode>();
        IReadOnlyDictionary<string, ulong> c = CLayout.Evaluate(FuseHeaders, all.Select(CName));
        Assert.Multiple(() =>
        {
            foreach (FuseOpcode opcode in all)
                Assert.That((ulong)opcode, Is.EqualTo(c[CName(opcode)]), CName(opcode));
        });
    }

    [Test]
    public void The_host_calls_structs_match_statx_statfs_and_open_how()
    {
        (string C, ulong Ours)[] checks =
        [
            ("sizeof(struct statx)", (ulong)Statx.Size), ("offsetof(struct statx, stx_mask)", Offset<Statx>("Mask")),
            ("offsetof(struct statx, stx_blksize)", Offset<Statx>("BlockSize")), ("offsetof(struct statx, stx_nlink)", Offset<Statx>("LinkCount")),
            ("offsetof(struct statx, stx_uid)", Offset<Statx>("Uid")), ("offsetof(struct statx, stx_gid)", Offset<Statx>("Gid")),
            ("offsetof(struct statx, stx_mode)", Offset<Statx>("Mode")), ("offsetof(struct statx, stx_ino)", Offset<Statx>("Inode")),
            ("offsetof(struct statx, stx_size)", Offset<Statx>("FileSize")), ("offsetof(struct statx, stx_blocks)", Offset<Statx>("Blocks")),
            ("offsetof(struct statx, stx_atime)", Offset<Statx>("AccessTime")), ("offsetof(struct statx, stx_ctime)", Offset<Statx>("ChangeTime")),
            ("offsetof(struct statx, stx_mtime)", Offset<Statx>("ModifyTime")), ("offsetof(struct statx, stx_rdev_major)", Offset<Statx>("RdevMajor")),
            ("offsetof(struct statx, stx_rdev_minor)", Offset<Statx>("RdevMinor")), ("offsetof(struct statx, stx_dev_major)", Offset<Statx>("DevMajor")),
            ("offsetof(struct statx, stx_dev_minor)", Offset<Statx>("DevMinor")),
            ("sizeof(struct statx_timestamp)", (ulong)Unsafe.SizeOf<StatxTimestamp>()),
            ("offsetof(struct statx_timestamp, tv_nsec)", Offset<StatxTimestamp>("Nanoseconds")),
            ("sizeof(struct statfs)", (ulong)StatFs.Size), ("offsetof(struct statfs, f_bsize)", Offset<StatFs>("BlockSize")),
            ("offsetof(struct statfs, f_blocks)", Offset<StatFs>("Blocks")), ("offsetof(struct statfs, f_bfree)", Offset<StatFs>("FreeBlocks")),
            ("offsetof(struct statfs, f_bavail)", Offset<StatFs>("AvailableBlocks")), ("offsetof(struct statfs, f_files)", Offset<StatFs>("Files")),
            ("offsetof(struct statfs, f_ffree)", Offset<StatFs>("FreeFiles")), ("offsetof(struct statfs, f_namelen)", Offset<StatFs>("NameLength")),
            ("offsetof(struct statfs, f_frsize)", Offset<StatFs>("FragmentSize")),
            ("sizeof(struct open_how)", (ulong)Unsafe.SizeOf<OpenHow>()), ("offsetof(struct open_how, mode)", Offset<OpenHow>("Mode")),
            ("offsetof(struct open_how, resolve)", Offset<OpenHow>("Resolve")),
            ("sizeof(struct timespec)", (ulong)Unsafe.SizeOf<FsLibc.Timespec>()),
        ];
        IReadOnlyDictionary<string, ulong> c = CLayout.Evaluate(HostHeaders, checks.Select(x => x.C), gnuSource: true);
        Assert.Multiple(() =>
        {
            foreach ((string name, ulong ours) in checks)
                Assert.That(ours, Is.EqualTo(c[name]), name);
        });
    }

    [Test]
    public void The_host_calls_flags_and_errno_values_match_the_C_headers()
    {
        (string C, ulong Ours)[] checks =
        [
            ("O_RDONLY", FsLibc.ORdonly), ("O_WRONLY", FsLibc.OWronly), ("O_RDWR", FsLibc.ORdwr), ("O_ACCMODE", FsLibc.OAccmode),
            ("O_CREAT", FsLibc.OCreat), ("O_EXCL", FsLibc.OExcl), ("O_NOCTTY", FsLibc.ONoctty), ("O_TRUNC", FsLibc.OTrunc),
            ("O_APPEND", FsLibc.OAppend), ("O_NONBLOCK", FsLibc.ONonblock), ("O_DSYNC", FsLibc.ODsync), ("O_DIRECT", FsLibc.ODirect),
            ("O_DIRECTORY", FsLibc.ODirectory), ("O_NOFOLLOW", FsLibc.ONofollow),
            ("O_NOATIME", FsLibc.ONoatime), ("O_CLOEXEC", FsLibc.OCloexec), ("O_SYNC", FsLibc.OSync), ("O_PATH", FsLibc.OPath),
            ("RESOLVE_NO_XDEV", FsLibc.ResolveNoXdev), ("RESOLVE_NO_MAGICLINKS", FsLibc.ResolveNoMagiclinks),
            ("RESOLVE_NO_SYMLINKS", FsLibc.ResolveNoSymlinks), ("RESOLVE_BENEATH", FsLibc.ResolveBeneath),
            ("AT_SYMLINK_NOFOLLOW", FsLibc.AtSymlinkNofollow), ("AT_REMOVEDIR", FsLibc.AtRemovedir),
            ("AT_SYMLINK_FOLLOW", FsLibc.AtSymlinkFollow), ("AT_EMPTY_PATH", FsLibc.AtEmptyPath), ("STATX_BASIC_STATS", FsLibc.StatxBasicStats),
            ("S_IFMT", FsLibc.SIfmt), ("S_IFSOCK", FsLibc.SIfsock), ("S_IFLNK", FsLibc.SIflnk), ("S_IFREG", FsLibc.SIfreg),
            ("S_IFBLK", FsLibc.SIfblk), ("S_IFDIR", FsLibc.SIfdir), ("S_IFCHR", FsLibc.SIfchr), ("S_IFIFO", FsLibc.SIfifo),
            ("S_ISUID", FsLibc.SIsuid), ("S_ISGID", FsLibc.SIsgid), ("SEEK_SET", FsLibc.SeekSet), ("SEEK_DATA", FsLibc.SeekData),
            ("SEEK_HOLE", FsLibc.SeekHole), ("RENAME_NOREPLACE", FsLibc.RenameNoreplace), ("RENAME_EXCHANGE", FsLibc.RenameExchange),
            ("FALLOC_FL_KEEP_SIZE", FsLibc.FallocFlKeepSize), ("FALLOC_FL_PUNCH_HOLE", FsLibc.FallocFlPunchHole),
            ("FALLOC_FL_ZERO_RANGE", FsLibc.FallocFlZeroRange), ("UTIME_NOW", (ulong)FsLibc.UtimeNow), ("UTIME_OMIT", (ulong)FsLibc.UtimeOmit),
            ("SYS_openat2", (ulong)FsLibc.SysOpenat2),
            ("EPERM", Errno.EPERM), ("ENOENT", Errno.ENOENT), ("EINTR", Errno.EINTR), ("EIO", Errno.EIO), ("ENXIO", Errno.ENXIO),
            ("E2BIG", Errno.E2BIG), ("EBADF", Errno.EBADF), ("EAGAIN", Errno.EAGAIN), ("ENOMEM", Errno.ENOMEM), ("EACCES", Errno.EACCES),
            ("EEXIST", Errno.EEXIST), ("EXDEV", Errno.EXDEV), ("ENOTDIR", Errno.ENOTDIR), ("EISDIR", Errno.EISDIR), ("EINVAL", Errno.EINVAL),
            ("ENFILE", Errno.ENFILE), ("EMFILE", Errno.EMFILE), ("ENOSPC", Errno.ENOSPC), ("EROFS", Errno.EROFS), ("ERANGE", Errno.ERANGE),
            ("ENAMETOOLONG", Errno.ENAMETOOLONG), ("ENOSYS", Errno.ENOSYS), ("ENOTEMPTY", Errno.ENOTEMPTY), ("ELOOP", Errno.ELOOP),
            ("EPROTO", Errno.EPROTO), ("EOVERFLOW", Errno.EOVERFLOW), ("EOPNOTSUPP", Errno.EOPNOTSUPP),
        ];
        IReadOnlyDictionary<string, ulong> c = CLayout.Evaluate(HostHeaders, checks.Select(x => x.C), gnuSource: true);
        Assert.Multiple(() =>
        {
            foreach ((string name, ulong ours) in checks)
                Assert.That(ours, Is.EqualTo(c[name]), name);
        });
    }

    // BatchForget -> FUSE_BATCH_FORGET.
    private static string CName(FuseOpcode opcode) =>
        "FUSE_" + string.Concat(opcode.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + c : c.ToString())).ToUpperInvariant();

    private static int SizeOf(Type type) => (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;

    private static ulong Offset<T>(string field) => (ulong)Marshal.OffsetOf<T>(field);
}
