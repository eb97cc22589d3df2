using Lguest.Memory;
using Lguest.Virtio;

namespace Lguest.Devices;

// One method per opcode: take the arguments, call the file system, reply.
internal sealed partial class FuseServer
{
    private uint Dispatch(DescriptorChain chain, in FuseInHeader header, FuseOpcode opcode, ReadOnlySpan<byte> arguments)
    {
        ulong unique = header.Unique;
        ulong node = header.NodeId;
        switch (opcode)
        {
            case FuseOpcode.Init:
                return Init(chain, header, arguments);
            case FuseOpcode.Destroy:
                _session.End();
                return Reply(chain, unique, 0);
            case FuseOpcode.Lookup:
            {
                if (FileName.TryParse(arguments, out FileName name, out _) is int error and not 0)
                    return Reply(chain, unique, error);
                return ReplyEntry(chain, unique, _fs.Lookup(node, name, out FuseEntryOut entry), entry);
            }
            case FuseOpcode.Getattr:
            {
                // fuse_getattr_in's handle adds nothing: the node's own handle reaches the same inode.
                return ReplyAttributes(chain, unique, _fs.GetAttributes(node, out FuseAttrOut attributes), attributes);
            }
            case FuseOpcode.Setattr:
            {
                if (!TryTake(ref arguments, out FuseSetattrIn change))
                    return Reply(chain, unique, Errno.EINVAL);
                return ReplyAttributes(chain, unique, _fs.SetAttributes(node, change, out FuseAttrOut attributes), attributes);
            }
            case FuseOpcode.Readlink:
            {
                Span<byte> target = _reply.AsSpan(0, PassthroughFileSystem.MaxLinkTarget);
                int error = _fs.ReadLink(node, target, out int length);
                return error == 0 ? Reply(chain, unique, target[..length]) : Reply(chain, unique, error);
            }
            case FuseOpcode.Symlink:
                return Symlink(chain, unique, node, arguments);
            case FuseOpcode.Mknod:
            {
                if (!TryTake(ref arguments, out FuseMknodIn make))
                    return Reply(chain, unique, Errno.EINVAL);
                if (FileName.TryParse(arguments, out FileName name, out _) is int error and not 0)
                    return Reply(chain, unique, error);
                return ReplyEntry(chain, unique, _fs.MakeNode(node, name, make.Mode, make.Rdev, out FuseEntryOut entry), entry);
            }
            case FuseOpcode.Mkdir:
            {
                if (!TryTake(ref arguments, out FuseMkdirIn make))
                    return Reply(chain, unique, Errno.EINVAL);
                if (FileName.TryParse(arguments, out FileName name, out _) is int error and not 0)
                    return Reply(chain, unique, error);
                return ReplyEntry(chain, unique, _fs.MakeDirectory(node, name, make.Mode, out FuseEntryOut entry), entry);
            }
            case FuseOpcode.Unlink:
            case FuseOpcode.Rmdir:
            {
                if (FileName.TryParse(arguments, out FileName name, out _) is int error and not 0)
                    return Reply(chain, unique, error);
                return Reply(chain, unique, opcode == FuseOpcode.Unlink ? _fs.Unlink(node, name) : _fs.RemoveDirectory(node, name));
            }
            case FuseOpcode.Rename:
            {
                if (!TryTake(ref arguments, out FuseRenameIn rename))
                    return Reply(chain, unique, Errno.EINVAL);
                return Rename(chain, unique, node, rename.NewDirectory, 0, arguments);
            }
            case FuseOpcode.Rename2:
            {
                if (!TryTake(ref arguments, out FuseRename2In rename))
                    return Reply(chain, unique, Errno.EINVAL);
                return Rename(chain, unique, node, rename.NewDirectory, rename.Flags, arguments);
            }
            case FuseOpcode.Link:
            {
                // The request's node is the new parent; the argument names the node to link.
                if (!TryTake(ref arguments, out FuseLinkIn link))
                    return Reply(chain, unique, Errno.EINVAL);
                if (FileName.TryParse(arguments, out FileName name, out _) is int error and not 0)
                    return Reply(chain, unique, error);
                return ReplyEntry(chain, unique, _fs.Link(link.OldNodeId, node, name, out FuseEntryOut entry), entry);
            }
            case FuseOpcode.Open:
            {
                if (!TryTake(ref arguments, out FuseOpenIn open))
                    return Reply(chain, unique, Errno.EINVAL);
                return ReplyOpen(chain, unique, _fs.Open(node, open.Flags, out ulong handle, out uint flags), handle, flags);
            }
            case FuseOpcode.Create:
                return Create(chain, unique, node, arguments);
            case FuseOpcode.Read:
                return Read(chain, unique, arguments);
            case FuseOpcode.Write:
                return Write(chain, header, arguments);
            case FuseOpcode.Statfs:
            {
                int error = _fs.StatFs(node, out FuseKstatfs statistics);
                return error == 0 ? Reply(chain, unique, statistics) : Reply(chain, unique, error);
            }
            case FuseOpcode.Release:
            case FuseOpcode.Releasedir:
            {
                if (!TryTake(ref arguments, out FuseReleaseIn release))
                    return Reply(chain, unique, Errno.EINVAL);
                return Reply(chain, unique, opcode == FuseOpcode.Release ? _fs.Release(release.Handle) : _fs.ReleaseDirectory(release.Handle));
            }
            case FuseOpcode.Flush:
            {
                if (!TryTake(ref arguments, out FuseFlushIn flush))
                    return Reply(chain, unique, Errno.EINVAL);
                return Reply(chain, unique, _fs.Flush(flush.Handle));
            }
            case FuseOpcode.Fsync:
            case FuseOpcode.Fsyncdir:
            {
                if (!TryTake(ref arguments, out FuseFsyncIn sync))
                    return Reply(chain, unique, Errno.EINVAL);
                bool dataOnly = (sync.FsyncFlags & FuseConstants.FsyncFdatasync) != 0;
                return Reply(chain, unique, opcode == FuseOpcode.Fsync ? _fs.Fsync(sync.Handle, dataOnly) : _fs.FsyncDirectory(sync.Handle, dataOnly));
            }
            case FuseOpcode.Opendir:
            {
                // fuse_open_in's flags add nothing to a directory opened for reading.
                if (!TryTake(ref arguments, out FuseOpenIn _))
                    return Reply(chain, unique, Errno.EINVAL);
                return ReplyOpen(chain, unique, _fs.OpenDirectory(node, out ulong directory, out uint openFlags), directory, openFlags);
            }
            case FuseOpcode.Readdir:
            case FuseOpcode.Readdirplus:
                return ReadDirectory(chain, unique, node, opcode == FuseOpcode.Readdirplus, arguments);
            case FuseOpcode.Access:
            {
                if (!TryTake(ref arguments, out FuseAccessIn access))
                    return Reply(chain, unique, Errno.EINVAL);
                return Reply(chain, unique, _fs.Access(node, access.Mask));
            }
            case FuseOpcode.Fallocate:
            {
                if (!TryTake(ref arguments, out FuseFallocateIn allocate))
                    return Reply(chain, unique, Errno.EINVAL);
                return Reply(chain, unique, _fs.Fallocate(allocate.Handle, allocate.Mode, allocate.Offset, allocate.Length));
            }
            case FuseOpcode.Lseek:
            {
                if (!TryTake(ref arguments, out FuseLseekIn seek))
                    return Reply(chain, unique, Errno.EINVAL);
                int error = _fs.Lseek(seek.Handle, seek.Offset, seek.Whence, out ulong position);
                return error == 0 ? Reply(chain, unique, new FuseLseekOut { Offset = position }) : Reply(chain, unique, error);
            }
            default:
                return Reply(chain, unique, Errno.ENOSYS);
        }
    }

    private uint Init(DescriptorChain chain, in FuseInHeader header, ReadOnlySpan<byte> arguments)
    {
        // The first four words are in every version's fuse_init_in; flags2 and the rest only in newer ones.
        Span<byte> bytes = stackalloc byte[System.Runtime.CompilerServices.Unsafe.SizeOf<FuseInitIn>()];
        bytes.Clear();
        if (arguments.Length < 16)
            return Reply(chain, header.Unique, Errno.EINVAL);
        arguments[..Math.Min(arguments.Length, bytes.Length)].CopyTo(bytes);
        FuseInitIn init = System.Runtime.InteropServices.MemoryMarshal.Read<FuseInitIn>(bytes);
        if (init.Major > FuseConstants.KernelVersion)
        {
            // A newer major: say ours, and the client asks again in it (the protocol's rule).
            return Reply(chain, header.Unique, new FuseInitOut { Major = FuseConstants.KernelVersion, Minor = FuseConstants.KernelMinorVersion });
        }
        if (init.Major < FuseConstants.KernelVersion || init.Minor < FuseConstants.MinimumMinorVersion)
        {
            _logger.VersionRefused(_name, init.Major, init.Minor);
            return Reply(chain, header.Unique, Errno.EPROTO);
        }
        const uint Offered = FuseConstants.AsyncRead | FuseConstants.AtomicOTrunc | FuseConstants.BigWrites | FuseConstants.DoReaddirplus
            | FuseConstants.ReaddirplusAuto | FuseConstants.ParallelDirops | FuseConstants.MaxPages;
        var reply = new FuseInitOut
        {
            Major = FuseConstants.KernelVersion,
            Minor = Math.Min(init.Minor, FuseConstants.KernelMinorVersion),
            MaxReadahead = init.MaxReadahead,
            Flags = init.Flags & Offered,
            MaxWrite = MaxTransferBytes,
            TimeGranularity = 1, // nanoseconds: the host's timestamps as they are
            MaxPages = MaxPages,
        };
        _session.Start();
        _logger.Initialized(_name, reply.Major, reply.Minor, init.Major, init.Minor, reply.Flags);
        return Reply(chain, header.Unique, reply);
    }

    private uint Symlink(DescriptorChain chain, ulong unique, ulong node, ReadOnlySpan<byte> arguments)
    {
        // The new link's name, then its target, each NUL-terminated.
        if (FileName.TryParse(arguments, out FileName name, out int used) is int error and not 0)
            return Reply(chain, unique, error);
        ReadOnlySpan<byte> rest = arguments[used..];
        int end = rest.IndexOf((byte)0);
        if (end < 0)
            return Reply(chain, unique, Errno.EINVAL);
        if (end + 1 > PassthroughFileSystem.MaxLinkTarget)
            return Reply(chain, unique, Errno.ENAMETOOLONG);
        return ReplyEntry(chain, unique, _fs.Symlink(node, name, rest[..(end + 1)], out FuseEntryOut entry), entry);
    }

    private uint Rename(DescriptorChain chain, ulong unique, ulong node, ulong newDirectory, uint flags, ReadOnlySpan<byte> names)
    {
        if (FileName.TryParse(names, out FileName name, out int used) is int error and not 0)
            return Reply(chain, unique, error);
        if (FileName.TryParse(names[used..], out FileName newName, out _) is int newError and not 0)
            return Reply(chain, unique, newError);
        return Reply(chain, unique, _fs.Rename(node, name, newDirectory, newName, flags));
    }

    private uint Create(DescriptorChain chain, ulong unique, ulong node, ReadOnlySpan<byte> arguments)
    {
        if (!TryTake(ref arguments, out FuseCreateIn create))
            return Reply(chain, unique, Errno.EINVAL);
        if (FileName.TryParse(arguments, out FileName name, out _) is int error and not 0)
            return Reply(chain, unique, error);
        int result = _fs.Create(node, name, create.Flags, create.Mode, out FuseEntryOut entry, out ulong handle, out uint openFlags);
        if (result != 0)
            return Reply(chain, unique, result);
        // CREATE's reply is fuse_entry_out followed by fuse_open_out.
        var reply = new CreateReply { Entry = entry, Open = new FuseOpenOut { Handle = handle, OpenFlags = openFlags } };
        return Reply(chain, unique, reply);
    }

    private uint Read(DescriptorChain chain, ulong unique, ReadOnlySpan<byte> arguments)
    {
        if (!TryTake(ref arguments, out FuseReadIn read))
            return Reply(chain, unique, Errno.EINVAL);
        // Never more than announced at INIT, nor than the guest's buffers after the reply header hold.
        ulong room = chain.WritableLength - FuseConstants.OutHeaderSize;
        ulong size = Math.Min(Math.Min(read.Size, (ulong)MaxTransferBytes), room);
        int count = DescriptorChain.Slice(chain.Writable, FuseConstants.OutHeaderSize, size, _scatter);
        int error = _fs.Read(read.Handle, read.Offset, _memory, _scatter.AsSpan(0, count), out int bytesRead);
        if (error != 0)
            return Reply(chain, unique, error);
        var header = new FuseOutHeader { Length = (uint)(FuseConstants.OutHeaderSize + bytesRead), Unique = unique };
        chain.CopyToWritable(_memory, 0, System.Runtime.InteropServices.MemoryMarshal.AsBytes(new ReadOnlySpan<FuseOutHeader>(in header)));
        return header.Length;
    }

    private uint Write(DescriptorChain chain, in FuseInHeader header, ReadOnlySpan<byte> arguments)
    {
        if (!TryTake(ref arguments, out FuseWriteIn write))
            return Reply(chain, header.Unique, Errno.EINVAL);
        // The data is the fuse_write_in.size bytes after the argument, all inside the length the header claims.
        uint data = header.Length - FuseConstants.InHeaderSize - FuseConstants.WriteInSize;
        if (write.Size > MaxTransferBytes || write.Size > data)
            return Refuse(chain, header, Errno.EINVAL, $"WRITE of {write.Size} bytes with {data} after its header");
        int count = DescriptorChain.Slice(chain.Readable, FuseConstants.InHeaderSize + FuseConstants.WriteInSize, write.Size, _scatter);
        int error = _fs.Write(write.Handle, write.Offset, _memory, _scatter.AsSpan(0, count), out int written);
        return error == 0 ? Reply(chain, header.Unique, new FuseWriteOut { Size = (uint)written }) : Reply(chain, header.Unique, error);
    }

    private uint ReadDirectory(DescriptorChain chain, ulong unique, ulong node, bool plus, ReadOnlySpan<byte> arguments)
    {
        if (!TryTake(ref arguments, out FuseReadIn read))
            return Reply(chain, unique, Errno.EINVAL);
        ulong room = chain.WritableLength - FuseConstants.OutHeaderSize;
        int limit = (int)Math.Min(Math.Min(read.Size, room), (ulong)MaxDirectoryReplyBytes);
        _directory.Begin(_reply, limit, plus, node);
        int error = _fs.ReadDirectory(read.Handle, read.Offset, _directory);
        // Entries already taken are sent even if a later read failed (they may carry counted lookups).
        if (error != 0 && _directory.Used == 0)
            return Reply(chain, unique, error);
        return Reply(chain, unique, _directory.Body);
    }

    /// <summary>CREATE's reply body: struct fuse_entry_out then struct fuse_open_out.</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct CreateReply
    {
        public FuseEntryOut Entry;
        public FuseOpenOut Open;
    }
}
