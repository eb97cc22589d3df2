using Lguest.Devices;
using Lguest.Memory;
using Lguest.Snapshot;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Fuzz.Targets;

/// <summary>
/// The device records a restore hands to the devices' <c>RestoreState</c> (the device part of a snapshot's
/// <c>pci/SLOT/virtio</c> section, which the snapshot target's transport decoding carries as opaque bytes): block,
/// network card, vsock and virtio-fs, each restored into a fresh device of its own kind. A refusal is a
/// <see cref="SnapshotException"/>; what is taken must hold: a disk's record is exactly what the device would write
/// (same capacity and writability) and its image never changes; a network card's is a MAC address and nothing else;
/// vsock's is a CID, and the device keeps the CID it was given; virtio-fs holds at most its caps of nodes and open
/// files, every node it found again is beneath the share (a capture records them all), the share's files and the
/// canary beside it are unchanged, and what it captures restores again into another fresh device to the same counts.
/// </summary>
/// <remarks>
/// Layout: byte 0 picks the device (its value mod 4: 0 block, 1 net, 2 vsock, 3 virtio-fs; bit 2 makes the disk or
/// the share read-only); the rest is the record. Each input gets a fresh device (and for virtio-fs a fresh folder).
/// </remarks>
public sealed class SnapshotDevicesTarget : FuzzTarget, IDisposable
{
    private const int DiskBytes = 0x10000;
    private const ulong GuestCid = 3;
    private const int MaxInodes = 8;
    private const int MaxHandles = 4;
    private static readonly byte[] FileBytes = "hello fuzz"u8.ToArray();
    private static readonly byte[] CanaryBytes = "the canary outside the share\n"u8.ToArray();

    private readonly GuestMemory _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(0x10000));
    private readonly string _root;
    private readonly string _disk;
    private readonly string _share;
    private readonly string _outside;
    private readonly string _canary;

    /// <summary>Creates the disk image, the share's parent and the canary in the temporary folder.</summary>
    public SnapshotDevicesTarget()
    {
        _root = Path.Combine(Path.GetTempPath(), $"lguest-fuzz-snapdev-{Environment.ProcessId}-{Guid.NewGuid():N}");
        _disk = Path.Combine(_root, "disk.img");
        _share = Path.Combine(_root, "share");
        _outside = Path.Combine(_root, "outside");
        _canary = Path.Combine(_outside, "canary.txt");
        Directory.CreateDirectory(_outside);
        File.WriteAllBytes(_canary, CanaryBytes);
        File.WriteAllBytes(_disk, new byte[DiskBytes]);
    }

    /// <inheritdoc />
    public override string Name => "snapshot-devices";

    /// <inheritdoc />
    public override int MaxInputLength => 1 + 8192;

    /// <inheritdoc />
    public void Dispose()
    {
        Directory.Delete(_root, recursive: true);
        _memory.Dispose();
    }

    /// <inheritdoc />
    protected override void Run(ReadOnlySpan<byte> input)
    {
        var reader = new FuzzInput(input);
        byte mode = reader.Byte();
        byte[] record = reader.Rest.ToArray();
        bool readOnly = (mode & 4) != 0;
        switch (mode % 4)
        {
            case 0:
                Block(record, readOnly);
                break;
            case 1:
                Net(record);
                break;
            case 2:
                Vsock(record);
                break;
            default:
                FileSystem(record, readOnly);
                break;
        }
    }

    private void Block(byte[] record, bool readOnly)
    {
        using (SafeFileHandle file = File.OpenHandle(_disk, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite))
        {
            var device = new VirtioBlockDevice(_memory, file, new VirtioBlockOptions { Path = _disk, ReadOnly = readOnly });
            device.RestoreState(record);
            InvariantViolationException.ThrowUnless(device.CaptureState().AsSpan().SequenceEqual(record), "a disk took a record other than the one it writes");
        }
        InvariantViolationException.ThrowUnless(new FileInfo(_disk).Length == DiskBytes, "the disk image changed size");
    }

    private static void Net(byte[] record)
    {
        MacAddress mac = VirtioNetDevice.DecodeState(record, "net");
        byte[] again = new byte[MacAddress.Length];
        mac.CopyTo(again);
        InvariantViolationException.ThrowUnless(again.AsSpan().SequenceEqual(record), "a network card's record is more or other than its MAC address");
    }

    private void Vsock(byte[] record)
    {
        using var host = new VsockHost(new VirtioVsockOptions { GuestCid = GuestCid });
        var device = new VirtioVsockDevice(_memory, host);
        device.RestoreState(record);
        InvariantViolationException.ThrowUnless(record.Length == sizeof(ulong), $"a vsock record of {record.Length} bytes was taken");
        byte[] captured = device.CaptureState();
        InvariantViolationException.ThrowUnless(captured.Length == sizeof(ulong) && BitConverter.ToUInt64(captured) == GuestCid,
            "the restored device does not keep the CID it was given");
    }

    private void FileSystem(byte[] record, bool readOnly)
    {
        ResetShare();
        try
        {
            byte[] captured;
            int nodes, handles;
            using (var passthrough = new PassthroughFileSystem(_share, MaxInodes, MaxHandles, TimeSpan.FromSeconds(1)))
            {
                VirtioFsDevice device = Share(passthrough, readOnly);
                device.RestoreState(record);
                nodes = passthrough.InodeCount;
                handles = passthrough.HandleCount;
                InvariantViolationException.ThrowUnless(nodes <= MaxInodes, $"{nodes} nodes held, the cap is {MaxInodes}");
                InvariantViolationException.ThrowUnless(handles <= MaxHandles, $"{handles} open files, the cap is {MaxHandles}");
                captured = device.CaptureState();
                (int capturedNodes, int capturedHandles) = Counts(captured);
                InvariantViolationException.ThrowUnless(capturedNodes == nodes - 1 && capturedHandles == handles,
                    $"restored {nodes - 1} nodes and {handles} open files, captured {capturedNodes} and {capturedHandles}: some are not beneath the share");
            }
            using (var passthrough = new PassthroughFileSystem(_share, MaxInodes, MaxHandles, TimeSpan.FromSeconds(1)))
            {
                VirtioFsDevice again = Share(passthrough, readOnly);
                again.RestoreState(captured);
                InvariantViolationException.ThrowUnless(passthrough.InodeCount == nodes && passthrough.HandleCount == handles,
                    $"a capture restored to {passthrough.InodeCount} nodes and {passthrough.HandleCount} open files, not {nodes} and {handles}");
            }
        }
        finally
        {
            CheckFiles();
        }
    }

    // The device over a file system the caller disposes (ReadOnlyFileSystem only passes disposal on).
    private VirtioFsDevice Share(PassthroughFileSystem passthrough, bool readOnly) =>
        new(_memory, readOnly ? new ReadOnlyFileSystem(passthrough) : passthrough,
            new VirtioFsOptions { HostDirectory = _share, Tag = "fuzz", ReadOnly = readOnly }, NullLogger.Instance);

    // The node and open-file counts of a virtio-fs record: initialized, next node, next handle, nodes, handles.
    private static (int Nodes, int Handles) Counts(byte[] state)
    {
        var reader = new SnapshotStateReader(state, "the capture");
        _ = reader.ReadBoolean();
        _ = reader.ReadUInt64();
        _ = reader.ReadUInt64();
        int nodes = reader.ReadCount(MaxInodes, "nodes");
        for (int i = 0; i < nodes; i++)
        {
            _ = reader.ReadUInt64();
            _ = reader.ReadUInt64();
            _ = reader.ReadUInt32();
            _ = reader.ReadBytes(4096);
        }
        return (nodes, reader.ReadCount(MaxHandles, "open files"));
    }

    // share/file, share/dir/inner, share/up -> ../outside: what every virtio-fs input starts from.
    private void ResetShare()
    {
        if (Directory.Exists(_share))
            Directory.Delete(_share, recursive: true);
        Directory.CreateDirectory(Path.Combine(_share, "dir"));
        File.WriteAllBytes(Path.Combine(_share, "file"), FileBytes);
        File.WriteAllBytes(Path.Combine(_share, "dir", "inner"), FileBytes);
        File.CreateSymbolicLink(Path.Combine(_share, "up"), "../outside");
    }

    // A restore only finds files again: nothing in the share or beside it changes.
    private void CheckFiles()
    {
        bool intact = Directory.GetFileSystemEntries(_outside).Length == 1 && File.ReadAllBytes(_canary).AsSpan().SequenceEqual(CanaryBytes);
        if (!intact)
        {
            Directory.Delete(_outside, recursive: true);
            Directory.CreateDirectory(_outside);
            File.WriteAllBytes(_canary, CanaryBytes);
        }
        InvariantViolationException.ThrowUnless(intact, "a restore changed the folder beside the share");
        InvariantViolationException.ThrowUnless(File.ReadAllBytes(Path.Combine(_share, "file")).AsSpan().SequenceEqual(FileBytes)
            && File.ReadAllBytes(Path.Combine(_share, "dir", "inner")).AsSpan().SequenceEqual(FileBytes)
            && Directory.GetFileSystemEntries(_share).Length == 3, "a restore changed the share's files");
    }

    /// <inheritdoc />
    public override IEnumerable<KeyValuePair<string, byte[]>> Seeds()
    {
        var block = new SnapshotStateWriter();
        block.WriteUInt64(DiskBytes / 512);
        block.WriteBoolean(false);
        yield return new("block", [0, .. block.ToArray()]);
        var readOnlyBlock = new SnapshotStateWriter();
        readOnlyBlock.WriteUInt64(DiskBytes / 512);
        readOnlyBlock.WriteBoolean(true);
        yield return new("block-read-only", [4, .. readOnlyBlock.ToArray()]);
        yield return new("net", [1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
        yield return new("vsock", [2, 7, 0, 0, 0, 0, 0, 0, 0]);

        const uint directory = 0x4000, regular = 0x8000;
        var fs = new SnapshotStateWriter();
        fs.WriteBoolean(true);
        fs.WriteUInt64(6); // next node
        fs.WriteUInt64(3); // next handle
        fs.WriteUInt32(4);
        foreach ((ulong id, uint type, string path) in new[] { (2UL, directory, "dir"), (3UL, regular, "dir/inner"), (4UL, regular, "file"), (5UL, regular, "up/canary.txt") })
        {
            fs.WriteUInt64(id);
            fs.WriteUInt64(1);
            fs.WriteUInt32(type);
            fs.WriteBytes(System.Text.Encoding.UTF8.GetBytes(path));
        }
        fs.WriteUInt32(2);
        fs.WriteUInt64(1);
        fs.WriteUInt64(4);
        fs.WriteBoolean(false);
        fs.WriteUInt32(2); // O_RDWR
        fs.WriteUInt64(2);
        fs.WriteUInt64(2);
        fs.WriteBoolean(true);
        fs.WriteUInt32(0x10000); // O_DIRECTORY
        yield return new("fs", [3, .. fs.ToArray()]);
        yield return new("fs-read-only", [7, .. fs.ToArray()]);
    }
}
