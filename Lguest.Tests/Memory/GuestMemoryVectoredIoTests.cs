using Lguest.Memory;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Tests.Memory;

public class GuestMemoryVectoredIoTests
{
    private const ulong MiB = 1 << 20;
    private string _path = "";

    [SetUp]
    public void CreateFile() => _path = Path.GetTempFileName();

    [TearDown]
    public void DeleteFile() => File.Delete(_path);

    [Test]
    public void WriteToFile_then_ReadFromFile_moves_scattered_buffers_in_order()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MiB));
        memory.Write(new GuestAddress(0x1000), "hello "u8);
        memory.Write(new GuestAddress(0x3000), "world"u8);
        using (SafeFileHandle file = File.OpenHandle(_path, FileMode.Open, FileAccess.ReadWrite))
        {
            long written = memory.WriteToFile(file, 512, [new(new GuestAddress(0x1000), 6), new(new GuestAddress(0x3000), 5)]);
            Assert.That(written, Is.EqualTo(11));
            long read = memory.ReadFromFile(file, 512, [new(new GuestAddress(0x8000), 3), new(new GuestAddress(0x9000), 8)]);
            Assert.That(read, Is.EqualTo(11));
        }
        Assert.That(memory.GetSpan(new GuestAddress(0x8000), 3).ToArray(), Is.EqualTo("hel"u8.ToArray()));
        Assert.That(memory.GetSpan(new GuestAddress(0x9000), 8).ToArray(), Is.EqualTo("lo world"u8.ToArray()));
        Assert.That(File.ReadAllBytes(_path)[512..], Is.EqualTo("hello world"u8.ToArray()));
    }

    [Test]
    public void ReadFromFile_stops_short_at_end_of_file()
    {
        File.WriteAllBytes(_path, new byte[100]);
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MiB));
        using SafeFileHandle file = File.OpenHandle(_path);
        Assert.That(memory.ReadFromFile(file, 0, [new(new GuestAddress(0), 4096)]), Is.EqualTo(100));
    }

    [Test]
    public void A_buffer_outside_guest_ram_is_refused_before_any_io()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MiB));
        using SafeFileHandle file = File.OpenHandle(_path, FileMode.Open, FileAccess.ReadWrite);
        Assert.That(() => memory.WriteToFile(file, 0, [new(new GuestAddress(0), 16), new(new GuestAddress(MiB - 8), 16)]),
            Throws.TypeOf<GuestMemoryException>());
        Assert.That(new FileInfo(_path).Length, Is.Zero);
    }

    [Test]
    public void More_buffers_than_one_syscall_takes_are_all_transferred()
    {
        File.WriteAllBytes(_path, Enumerable.Range(0, 3000).Select(i => (byte)i).ToArray());
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MiB));
        using SafeFileHandle file = File.OpenHandle(_path);
        GuestBuffer[] buffers = Enumerable.Range(0, 3000).Select(i => new GuestBuffer(new GuestAddress((ulong)i * 2), 1)).ToArray();
        Assert.That(memory.ReadFromFile(file, 0, buffers), Is.EqualTo(3000));
        Assert.That(memory.Read<byte>(new GuestAddress(2 * 2999)), Is.EqualTo(unchecked((byte)2999)));
    }

    [Test]
    public void TryWriteTo_with_a_prefix_writes_the_host_bytes_then_the_guest_buffers_in_one_write()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MiB));
        memory.Write(new GuestAddress(0x2000), "guest"u8);
        memory.Write(new GuestAddress(0x5000), "-data"u8);
        File.WriteAllBytes(_path, []);
        using (SafeFileHandle file = File.OpenHandle(_path, FileMode.Open, FileAccess.Write))
        {
            bool written = memory.TryWriteTo(file, "host:"u8, [new(new GuestAddress(0x2000), 5), new(new GuestAddress(0x5000), 5)], out int n);
            Assert.That(written, Is.True);
            Assert.That(n, Is.EqualTo(15));
        }
        Assert.That(File.ReadAllBytes(_path), Is.EqualTo("host:guest-data"u8.ToArray()));
    }

    [Test]
    public void TryWriteTo_with_a_prefix_refuses_a_buffer_outside_guest_ram_before_any_io()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MiB));
        File.WriteAllBytes(_path, []);
        using SafeFileHandle file = File.OpenHandle(_path, FileMode.Open, FileAccess.Write);
        Assert.That(() => memory.TryWriteTo(file, "host"u8, [new(new GuestAddress(MiB - 4), 8)], out _), Throws.TypeOf<GuestMemoryException>());
        Assert.That(new FileInfo(_path).Length, Is.Zero);
    }

    [Test]
    public void TryWriteTo_with_a_prefix_refuses_more_buffers_than_one_writev_takes()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MiB));
        using SafeFileHandle file = File.OpenHandle(_path, FileMode.Open, FileAccess.Write);
        GuestBuffer[] buffers = Enumerable.Range(0, 1024).Select(i => new GuestBuffer(new GuestAddress((ulong)i), 1)).ToArray();
        Assert.That(() => memory.TryWriteTo(file, "h"u8, buffers, out _), Throws.ArgumentException);
    }

    [Test]
    public void TryReadFrom_with_a_suffix_fills_the_guest_buffers_first_then_the_host_bytes()
    {
        File.WriteAllBytes(_path, "abcdefgh"u8.ToArray());
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MiB));
        using SafeFileHandle file = File.OpenHandle(_path);
        var suffix = new byte[1];
        bool read = memory.TryReadFrom(file, [new(new GuestAddress(0x3000), 2), new(new GuestAddress(0x7000), 3)], suffix, out int n);
        Assert.Multiple(() =>
        {
            Assert.That(read, Is.True);
            Assert.That(n, Is.EqualTo(6));
            Assert.That(memory.GetSpan(new GuestAddress(0x3000), 2).ToArray(), Is.EqualTo("ab"u8.ToArray()));
            Assert.That(memory.GetSpan(new GuestAddress(0x7000), 3).ToArray(), Is.EqualTo("cde"u8.ToArray()));
            Assert.That(suffix, Is.EqualTo("f"u8.ToArray()));
        });
    }

    [Test]
    public void TryReadFrom_with_a_suffix_refuses_a_buffer_outside_guest_ram()
    {
        File.WriteAllBytes(_path, new byte[64]);
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MiB));
        using SafeFileHandle file = File.OpenHandle(_path);
        Assert.That(() => memory.TryReadFrom(file, [new(new GuestAddress(MiB - 4), 8)], new byte[1], out _), Throws.TypeOf<GuestMemoryException>());
    }
}
