using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Lguest.Devices;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Fuzz.Targets;

/// <summary>
/// virtio-fs request parsing (virtio 1.2 §5.11.6, FUSE): the input is the guest memory holding a request queue,
/// served once by the device's own <see cref="FuseServer"/> over a real <see cref="PassthroughFileSystem"/> of a
/// small folder (a file, a directory with a file in it, a symbolic link out of the share). Only the project's own
/// exceptions may come out; the server writes only the chains' writable buffers and the used ring, with used
/// lengths they can hold; the canary file beside the share is never read into a reply, changed, linked or joined
/// by anything; the node and handle tables stay within their caps.
/// </summary>
/// <remarks>
/// Layout: byte 0 = the ring mode (<see cref="GuestRings.Mode"/>), bit 5 a read-only share, bit 6 no INIT done
/// for the input (it must send its own); the rest is RAM from 0. Each input starts from a fresh folder and a fresh
/// file system, so node ids (2, 3, ... in lookup order) and handles (1, 2, ...) are the same on every run.
/// </remarks>
public sealed class VirtioFsTarget : FuzzTarget, IDisposable
{
    private const int MemorySize = 0x10000;
    private const int MaxInodes = 12;
    private const int MaxHandles = 4;
    private static readonly byte[] CanaryBytes = "the canary outside the share\n"u8.ToArray();

    private readonly GuestMemory _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MemorySize));
    private readonly byte[] _before = new byte[MemorySize];
    private readonly string _root;
    private readonly string _share;
    private readonly string _outside;
    private readonly string _canary;

    /// <summary>Creates the folders in the temporary folder (tmpfs under fuzz/run.sh).</summary>
    public VirtioFsTarget()
    {
        _root = Path.Combine(Path.GetTempPath(), $"lguest-fuzz-fs-{Environment.ProcessId}-{Guid.NewGuid():N}");
        _share = Path.Combine(_root, "share");
        _outside = Path.Combine(_root, "outside");
        _canary = Path.Combine(_outside, "canary.txt");
        Directory.CreateDirectory(_outside);
        File.WriteAllBytes(_canary, CanaryBytes);
    }

    /// <inheritdoc />
    public override string Name => "virtio-fs";

    /// <inheritdoc />
    public override int MaxInputLength => 1 + 0x4000;

    /// <inheritdoc />
    public void Dispose()
    {
        Remove(_root);
        _memory.Dispose();
    }

    // What an input left: .NET's recursive delete cannot name an entry whose name is not UTF-8 (the guest's names
    // are bytes) nor enter a directory the guest made mode 000, so those go through chmod and rm.
    private static void Remove(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            using var rm = System.Diagnostics.Process.Start("sh", ["-c", "chmod -R u+rwx \"$1\"; rm -rf \"$1\"", "sh", folder])!;
            rm.WaitForExit();
            if (Directory.Exists(folder))
                throw new InvalidOperationException($"cannot remove {folder}", e);
        }
    }

    /// <inheritdoc />
    protected override void Run(ReadOnlySpan<byte> input)
    {
        var reader = new FuzzInput(input);
        byte mode = reader.Byte();
        (int size, ulong features) = GuestRings.Mode(mode);
        bool readOnly = (mode & 32) != 0, initialized = (mode & 64) == 0;
        Span<byte> ram = _memory.GetSpan(GuestAddress.Zero, MemorySize);
        ram.Clear();
        reader.Bytes(MemorySize).CopyTo(ram);
        ram.CopyTo(_before);
        ushort usedIndexBefore = BinaryPrimitives.ReadUInt16LittleEndian(ram[(GuestRings.Used + 2)..]);
        var chains = GuestRings.Preview(_memory, size, features, size);

        ResetShare();
        var passthrough = new PassthroughFileSystem(_share, MaxInodes, MaxHandles, TimeSpan.FromSeconds(1));
        using IFileSystem fileSystem = readOnly ? new ReadOnlyFileSystem(passthrough) : passthrough;
        var session = new FuseSession(fileSystem, "fs", NullLogger.Instance);
        if (initialized)
            session.Start();
        var server = new FuseServer(session, _memory, size);
        var ring = new Vring(_memory, "fs vq 1", size, GuestRings.Addresses, features);
        var chain = new DescriptorChain();
        try
        {
            for (int served = 0; served < size && ring.TryPop(chain); served++)
            {
                ring.Push(chain.Head, server.Serve(chain));
                InvariantViolationException.ThrowUnless(passthrough.InodeCount <= MaxInodes, $"{passthrough.InodeCount} nodes held, the cap is {MaxInodes}");
                InvariantViolationException.ThrowUnless(passthrough.HandleCount <= MaxHandles, $"{passthrough.HandleCount} handles open, the cap is {MaxHandles}");
            }
        }
        finally
        {
            CheckOutside(ram);
        }
        GuestRings.CheckWrites(ram, _before, size, usedIndexBefore, chains, allowBufferWrites: true);
    }

    // share/file, share/dir/inner, share/up -> ../outside: what every input starts from.
    private void ResetShare()
    {
        if (Directory.Exists(_share))
            Remove(_share);
        Directory.CreateDirectory(Path.Combine(_share, "dir"));
        File.WriteAllText(Path.Combine(_share, "file"), "hello fuzz");
        File.WriteAllText(Path.Combine(_share, "dir", "inner"), "inner");
        File.CreateSymbolicLink(Path.Combine(_share, "up"), "../outside");
    }

    // Nothing outside the share changes, and the canary's bytes never reach guest memory.
    private void CheckOutside(ReadOnlySpan<byte> ram)
    {
        string[] entries = Directory.GetFileSystemEntries(_outside);
        byte[] canary = File.ReadAllBytes(_canary);
        bool intact = entries.Length == 1 && canary.AsSpan().SequenceEqual(CanaryBytes);
        if (!intact)
        {
            foreach (string entry in entries.Where(e => e != _canary))
                File.Delete(entry);
            File.WriteAllBytes(_canary, CanaryBytes);
        }
        InvariantViolationException.ThrowUnless(intact, $"outside the share: {string.Join(", ", entries.Select(Path.GetFileName))}, canary {canary.Length} bytes");
        InvariantViolationException.ThrowUnless(ram.IndexOf("the canary"u8) < 0 || _before.AsSpan().IndexOf("the canary"u8) >= 0,
            "the canary's contents reached guest memory");
    }

    /// <inheritdoc />
    public override IEnumerable<KeyValuePair<string, byte[]>> Seeds()
    {
        // Requests at 0x1000 + 0x200 k (readable), replies at 0x2000 + 0x400 k (writable): a queue of 16, two descriptors a request.
        static byte[] Memory(params (byte[] Request, uint ReplyBytes)[] requests)
        {
            var ram = new byte[0x4000];
            int d = 0;
            for (int k = 0; k < requests.Length; k++)
            {
                (byte[] request, uint reply) = requests[k];
                request.CopyTo(ram, 0x1000 + 0x200 * k);
                FuzzInputWriter.PutDescriptor(ram, GuestRings.Descriptors, d, 0x1000 + 0x200UL * (ulong)k, (uint)request.Length, reply > 0 ? 1 : 0, d + 1);
                if (reply > 0)
                    FuzzInputWriter.PutDescriptor(ram, GuestRings.Descriptors, d + 1, 0x2000 + 0x400UL * (ulong)k, reply, 2, 0);
                FuzzInputWriter.Put16(ram, GuestRings.Available + 4 + 2 * k, d);
                d += reply > 0 ? 2 : 1;
            }
            FuzzInputWriter.Put16(ram, GuestRings.Available + 2, requests.Length);
            return ram;
        }
        static byte[] Request(FuseOpcode opcode, ulong node, params byte[][] arguments)
        {
            byte[] body = [.. arguments.SelectMany(a => a)];
            var header = new FuseInHeader { Length = (uint)(40 + body.Length), Opcode = (uint)opcode, Unique = 1, NodeId = node };
            return [.. Bytes(header), .. body];
        }
        static byte[] Bytes<T>(T value) where T : unmanaged => MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)).ToArray();
        static byte[] Name(string name) => [.. Encoding.UTF8.GetBytes(name), 0];
        static byte[] Input(int mode, byte[] ram) => new FuzzInputWriter().Byte(mode).Bytes(ram).ToArray();

        yield return new("init-lookup-read", Input(4 | 64, Memory(
            (Request(FuseOpcode.Init, 0, Bytes(new FuseInitIn { Major = 7, Minor = 38, Flags = 0x7fffffff })), 80),
            (Request(FuseOpcode.Lookup, 1, Name("file")), 144),
            (Request(FuseOpcode.Open, 2, Bytes(new FuseOpenIn())), 32),
            (Request(FuseOpcode.Read, 2, Bytes(new FuseReadIn { Handle = 1, Size = 64 })), 80),
            (Request(FuseOpcode.Release, 2, Bytes(new FuseReleaseIn { Handle = 1 })), 16),
            (Request(FuseOpcode.Forget, 2, Bytes(new FuseForgetIn { Lookups = 1 })), 0))));
        yield return new("create-write-setattr", Input(4, Memory(
            (Request(FuseOpcode.Create, 1, Bytes(new FuseCreateIn { Flags = 2, Mode = 0x81a4 }), Name("new")), 160),
            (Request(FuseOpcode.Write, 2, Bytes(new FuseWriteIn { Handle = 1, Size = 5 }), "12345"u8.ToArray()), 24),
            (Request(FuseOpcode.Setattr, 2, Bytes(new FuseSetattrIn { Valid = FuseConstants.FattrSize | FuseConstants.FattrFh, Handle = 1, Size = 2 })), 120),
            (Request(FuseOpcode.Fsync, 2, Bytes(new FuseFsyncIn { Handle = 1 })), 16),
            (Request(FuseOpcode.Fallocate, 2, Bytes(new FuseFallocateIn { Handle = 1, Length = 4096 })), 16),
            (Request(FuseOpcode.Lseek, 2, Bytes(new FuseLseekIn { Handle = 1, Whence = 3 })), 24))));
        yield return new("readdirplus", Input(4, Memory(
            (Request(FuseOpcode.Opendir, 1, Bytes(new FuseOpenIn())), 32),
            (Request(FuseOpcode.Readdirplus, 1, Bytes(new FuseReadIn { Handle = 1, Size = 1024 })), 1024),
            (Request(FuseOpcode.Readdir, 1, Bytes(new FuseReadIn { Handle = 1, Size = 512 })), 512),
            (Request(FuseOpcode.Releasedir, 1, Bytes(new FuseReleaseIn { Handle = 1 })), 16))));
        yield return new("names", Input(4, Memory(
            (Request(FuseOpcode.Mkdir, 1, Bytes(new FuseMkdirIn { Mode = 0x41ed }), Name("d")), 144),
            (Request(FuseOpcode.Symlink, 2, Name("l"), Name("../../..")), 144),
            (Request(FuseOpcode.Rename2, 1, Bytes(new FuseRename2In { NewDirectory = 2 }), Name("file"), Name("moved")), 16),
            (Request(FuseOpcode.Link, 2, Bytes(new FuseLinkIn { OldNodeId = 1 }), Name("hard")), 144),
            (Request(FuseOpcode.Mknod, 1, Bytes(new FuseMknodIn { Mode = 0x11a4 }), Name("fifo")), 144),
            (Request(FuseOpcode.Unlink, 1, Name("up")), 16),
            (Request(FuseOpcode.Rmdir, 1, Name("dir")), 16),
            (Request(FuseOpcode.Lookup, 1, Name("..")), 144))));
        yield return new("escape", Input(4 | 32, Memory(
            (Request(FuseOpcode.Lookup, 1, Name("up")), 144),
            (Request(FuseOpcode.Lookup, 2, Name("canary.txt")), 144),
            (Request(FuseOpcode.Open, 2, Bytes(new FuseOpenIn { Flags = 2 })), 32),
            (Request(FuseOpcode.Readlink, 2), 256),
            (Request(FuseOpcode.Statfs, 1), 96),
            (Request(FuseOpcode.Access, 1, Bytes(new FuseAccessIn { Mask = 2 })), 16),
            (Request(FuseOpcode.Getattr, 2, Bytes(new FuseGetattrIn())), 120),
            (Request(FuseOpcode.Destroy, 0), 16))));
    }
}
