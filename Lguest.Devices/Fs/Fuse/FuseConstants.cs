namespace Lguest.Devices;

/// <summary>The numbers of &lt;linux/fuse.h&gt; the server uses besides the opcodes; a test checks each against the header.</summary>
internal static class FuseConstants
{
    /// <summary>FUSE_KERNEL_VERSION: the protocol's major version.</summary>
    public const uint KernelVersion = 7;

    /// <summary>FUSE_KERNEL_MINOR_VERSION of the header the structs were written from: the newest minor the server speaks.</summary>
    public const uint KernelMinorVersion = 38;

    /// <summary>The oldest minor the server accepts (7.31: FUSE_MAX_PAGES' max_pages, fuse_setattr_in and fuse_write_in at their present sizes).</summary>
    public const uint MinimumMinorVersion = 31;

    /// <summary>FUSE_ROOT_ID: the node of the shared folder itself.</summary>
    public const ulong RootId = 1;

    // INIT flags (fuse_init_in.flags / fuse_init_out.flags).
    public const uint AsyncRead = 1 << 0;          // FUSE_ASYNC_READ
    public const uint AtomicOTrunc = 1 << 3;       // FUSE_ATOMIC_O_TRUNC
    public const uint BigWrites = 1 << 5;          // FUSE_BIG_WRITES
    public const uint DoReaddirplus = 1 << 13;     // FUSE_DO_READDIRPLUS
    public const uint ReaddirplusAuto = 1 << 14;   // FUSE_READDIRPLUS_AUTO
    public const uint ParallelDirops = 1 << 18;    // FUSE_PARALLEL_DIROPS
    public const uint MaxPages = 1 << 22;          // FUSE_MAX_PAGES
    public const uint CacheSymlinks = 1 << 23;     // FUSE_CACHE_SYMLINKS
    public const uint InitExt = 1 << 30;           // FUSE_INIT_EXT

    // fuse_setattr_in.valid.
    public const uint FattrMode = 1 << 0;          // FATTR_MODE
    public const uint FattrUid = 1 << 1;           // FATTR_UID
    public const uint FattrGid = 1 << 2;           // FATTR_GID
    public const uint FattrSize = 1 << 3;          // FATTR_SIZE
    public const uint FattrAtime = 1 << 4;         // FATTR_ATIME
    public const uint FattrMtime = 1 << 5;         // FATTR_MTIME
    public const uint FattrFh = 1 << 6;            // FATTR_FH
    public const uint FattrAtimeNow = 1 << 7;      // FATTR_ATIME_NOW
    public const uint FattrMtimeNow = 1 << 8;      // FATTR_MTIME_NOW

    /// <summary>FUSE_GETATTR_FH: fuse_getattr_in.fh names an open handle.</summary>
    public const uint GetattrFh = 1 << 0;

    /// <summary>FUSE_FSYNC_FDATASYNC: sync the data only.</summary>
    public const uint FsyncFdatasync = 1 << 0;

    /// <summary>FUSE_COMPAT_ENTRY_OUT_SIZE / sizeof(struct fuse_entry_out) and the other fixed sizes the parser checks.</summary>
    public const int InHeaderSize = 40;

    /// <summary>sizeof(struct fuse_out_header).</summary>
    public const int OutHeaderSize = 16;

    /// <summary>sizeof(struct fuse_write_in): the data of a WRITE starts this far after the in header.</summary>
    public const int WriteInSize = 40;

    /// <summary>sizeof(struct fuse_dirent) without the name (FUSE_NAME_OFFSET).</summary>
    public const int DirentSize = 24;

    /// <summary>sizeof(struct fuse_entry_out) + FUSE_NAME_OFFSET: a fuse_direntplus without its name (FUSE_NAME_OFFSET_DIRENTPLUS).</summary>
    public const int DirentplusSize = 152;
}
