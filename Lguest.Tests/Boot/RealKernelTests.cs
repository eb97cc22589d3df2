using System.Buffers.Binary;
using Lguest.Boot;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Tests.Support;

namespace Lguest.Tests.Boot;

/// <summary>The loader against the Debian 12 cloud kernel (6.1, protocol 2.15, LZ4-compressed, CONFIG_PVH=y).</summary>
public class RealKernelTests
{
    private const ulong MiB = 1 << 20;

    private static SetupHeader Header(string path) => BzImageLoader.ReadHeader(File.ReadAllBytes(path).AsSpan(0, BzImageLoader.ProbeSize));

    [Test]
    public void The_cloud_bzImage_header_reads_as_a_relocatable_64_bit_protocol_2_15_kernel()
    {
        string path = TestKernel.CloudBzImage;
        SetupHeader h = Header(path);
        long length = new FileInfo(path).Length;
        int setupSize = (h.SetupSects + 1) * 512;
        TestContext.Out.WriteLine($"{path}: {length} bytes, protocol {h.VersionMajor}.{h.VersionMinor:d2}, setup_sects {h.SetupSects}, " +
            $"syssize 0x{h.SysSize:x}, loadflags {h.LoadFlags}, code32_start 0x{h.Code32Start:x}, initrd_addr_max 0x{h.InitrdAddrMax:x}, " +
            $"kernel_alignment 0x{h.KernelAlignment:x}, relocatable {h.RelocatableKernel}, min_alignment {h.MinAlignment}, xloadflags {h.XLoadFlags} (0x{(ushort)h.XLoadFlags:x}), " +
            $"cmdline_size {h.CmdlineSize}, payload_offset 0x{h.PayloadOffset:x}, payload_length 0x{h.PayloadLength:x}, pref_address 0x{h.PrefAddress:x}, " +
            $"init_size 0x{h.InitSize:x}, handover_offset 0x{h.HandoverOffset:x}, kernel_info_offset 0x{h.KernelInfoOffset:x}");
        Assert.Multiple(() =>
        {
            Assert.That(h.Header, Is.EqualTo(SetupHeader.HdrSMagic));
            Assert.That(h.BootFlag, Is.EqualTo(0xAA55));
            Assert.That(h.Version, Is.EqualTo(0x020F));
            Assert.That(h.SetupSects, Is.InRange(4, 64));
            Assert.That((long)h.SysSize * 16, Is.InRange(length - setupSize - 4096, length - setupSize + 15));
            Assert.That(h.LoadFlags & LoadFlags.LoadedHigh, Is.EqualTo(LoadFlags.LoadedHigh));
            Assert.That(h.Code32Start, Is.EqualTo(0x100000));
            Assert.That(h.RelocatableKernel, Is.EqualTo(1));
            Assert.That(h.KernelAlignment, Is.EqualTo(0x200000)); // CONFIG_PHYSICAL_ALIGN
            Assert.That(h.PrefAddress, Is.EqualTo(0x1000000));    // CONFIG_PHYSICAL_START
            Assert.That(h.XLoadFlags & (XLoadFlags.Kernel64 | XLoadFlags.CanBeLoadedAbove4G), Is.EqualTo(XLoadFlags.Kernel64 | XLoadFlags.CanBeLoadedAbove4G));
            Assert.That(h.CmdlineSize, Is.EqualTo(2047));
            Assert.That(h.InitrdAddrMax, Is.EqualTo(0x7fffffff));
            Assert.That((long)h.PayloadOffset + h.PayloadLength, Is.LessThanOrEqualTo(length - setupSize));
            Assert.That(h.InitSize, Is.GreaterThan((uint)(length - setupSize)));
        });
    }

    [Test]
    public void The_cloud_bzImage_payload_is_lz4_legacy_frames_that_decompress_to_the_elf64_vmlinux()
    {
        // payload_offset and payload_length locate the payload; its magic names the compression.
        byte[] payload = TestKernel.ReadPayload(TestKernel.CloudBzImage);
        Assert.That(TestKernel.PayloadFormat(payload), Is.EqualTo("lz4-legacy"));
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(payload), Is.EqualTo(Lz4LegacyFrames.Magic));

        byte[] elf = Lz4LegacyFrames.DecompressKernelPayload(payload);
        Assert.That(elf.Length, Is.EqualTo(BinaryPrimitives.ReadUInt32LittleEndian(payload.AsSpan(payload.Length - 4))));
        Assert.That(elf[..4], Is.EqualTo(new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F' }));
        Assert.That(elf[4], Is.EqualTo(2), "ELFCLASS64");
        Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(18)), Is.EqualTo(62), "EM_X86_64");
        // The same bytes as the vmlinux the tests and the bed boot (kernels.sh extracts it with the lz4 tool).
        Assert.That(elf.AsSpan().SequenceEqual(File.ReadAllBytes(TestKernel.CloudVmlinux)), Is.True);
    }

    [Test]
    public void The_cloud_kernel_needs_no_more_than_init_size_once_decompressed()
    {
        SetupHeader h = Header(TestKernel.CloudBzImage);
        Assert.That(new FileInfo(TestKernel.CloudVmlinux).Length, Is.LessThanOrEqualTo(h.InitSize));
    }

    [Test]
    public void Load_puts_the_cloud_bzImage_at_its_pref_address_with_the_64_bit_entry_on_kvm()
    {
        string path = TestKernel.CloudBzImage;
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(256 * MiB));
        LoadedKernel k = KernelLoader.Load(memory, new KernelLoadOptions { KernelPath = path, CommandLine = "console=ttyS0 panic=-1" });
        SetupHeader image = Header(path);

        Assert.That(k.Protocol, Is.EqualTo(BootProtocolKind.BzImage));
        Assert.That(k.Boot, Is.EqualTo(new BootState(BootCpuMode.Linux64, new GuestAddress(0x1000200), new GuestAddress(PcLowMemory.ZeroPage))));
        Assert.That(k.KernelAddress, Is.EqualTo(new GuestAddress(0x1000000)));
        Assert.That(k.Entry32, Is.EqualTo(new GuestAddress(0x1000000)));
        Assert.That(k.Ranges, Does.Contain(new BootMemoryRange("kernel init area", new GuestAddress(0x1000000), image.InitSize)));

        BootParams bp = memory.Read<BootParams>(new GuestAddress(PcLowMemory.ZeroPage));
        Assert.Multiple(() =>
        {
            Assert.That(bp.Hdr.Version, Is.EqualTo(0x020F));
            Assert.That(bp.Hdr.InitSize, Is.EqualTo(image.InitSize));
            Assert.That(bp.Hdr.Code32Start, Is.EqualTo(0x1000000));
            Assert.That(bp.Hdr.TypeOfLoader, Is.EqualTo(0xFF));
            Assert.That(bp.Hdr.CmdLinePtr, Is.EqualTo(PcLowMemory.CommandLine));
            Assert.That(bp.Hdr.HardwareSubarch, Is.Zero);
            Assert.That(bp.E820Entries, Is.EqualTo(3));
        });
        // The protected-mode code landed byte for byte (its first and last pages).
        byte[] file = File.ReadAllBytes(path);
        int setupSize = (image.SetupSects + 1) * 512;
        int kernelSize = file.Length - setupSize;
        Assert.That(memory.GetSpan(new GuestAddress(0x1000000), 4096).ToArray(), Is.EqualTo(file[setupSize..(setupSize + 4096)]));
        Assert.That(memory.GetSpan(new GuestAddress(0x1000000 + (ulong)kernelSize - 4096), 4096).ToArray(), Is.EqualTo(file[^4096..]));
    }

    [Test]
    public void Load_puts_the_cloud_bzImage_at_1_MiB_entering_at_code32_start_on_lguest()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(128 * MiB));
        LoadedKernel k = KernelLoader.Load(memory, new KernelLoadOptions { KernelPath = TestKernel.CloudBzImage, Platform = BootPlatform.Lguest });

        Assert.That(k.Boot, Is.EqualTo(new BootState(BootCpuMode.Linux32, new GuestAddress(0x100000), GuestAddress.Zero)));
        BootParams bp = memory.Read<BootParams>(GuestAddress.Zero);
        Assert.Multiple(() =>
        {
            Assert.That(bp.Hdr.Version, Is.EqualTo(0x0207));
            Assert.That(bp.Hdr.HardwareSubarch, Is.EqualTo(1));
            Assert.That(bp.Hdr.KernelAlignment, Is.EqualTo(0x1000000));
            Assert.That(bp.Hdr.LoadFlags & LoadFlags.KeepSegments, Is.EqualTo(LoadFlags.KeepSegments));
            Assert.That(bp.Hdr.CmdLinePtr, Is.EqualTo(0x1000));
            Assert.That(bp.E820Entries, Is.EqualTo(1));
            Assert.That(bp.E820Table[0], Is.EqualTo(new E820Entry(0, 128 * MiB, E820Type.Ram)));
        });
    }

    [Test]
    public void Load_boots_the_cloud_vmlinux_by_pvh_with_its_segments_in_place()
    {
        string path = TestKernel.CloudVmlinux;
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(256 * MiB));
        LoadedKernel k = KernelLoader.Load(memory, new KernelLoadOptions { KernelPath = path, CommandLine = "console=ttyS0" });
        TestContext.Out.WriteLine($"entry64 {k.Entry64}, PVH entry {k.PvhEntry}, segments: {string.Join(", ", k.Ranges)}");

        Assert.That(k.Protocol, Is.EqualTo(BootProtocolKind.Pvh));
        Assert.That(k.PvhEntry, Is.Not.Null);
        Assert.That(k.Boot, Is.EqualTo(new BootState(BootCpuMode.Pvh, k.PvhEntry!.Value, new GuestAddress(PcLowMemory.StartInfo))));
        Assert.That(k.Entry64, Is.EqualTo(new GuestAddress(0x1000000)), "phys_startup_64 at CONFIG_PHYSICAL_START");
        HvmStartInfo info = memory.Read<HvmStartInfo>(new GuestAddress(PcLowMemory.StartInfo));
        Assert.That(info.Magic, Is.EqualTo(HvmStartInfo.MagicValue));
        Assert.That(info.CmdlinePaddr, Is.EqualTo(PcLowMemory.CommandLine));

        // Every PT_LOAD segment landed: its first file bytes are in memory at p_paddr, and its bss is zero.
        byte[] file = File.ReadAllBytes(path);
        var ehdr = file.AsSpan();
        ulong phoff = BinaryPrimitives.ReadUInt64LittleEndian(ehdr[32..]);
        int phnum = BinaryPrimitives.ReadUInt16LittleEndian(ehdr[56..]);
        int loads = 0;
        for (int i = 0; i < phnum; i++)
        {
            var ph = ehdr.Slice((int)phoff + i * 56, 56);
            if (BinaryPrimitives.ReadUInt32LittleEndian(ph) != 1)
                continue;
            loads++;
            ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(ph[8..]);
            ulong paddr = BinaryPrimitives.ReadUInt64LittleEndian(ph[24..]);
            ulong filesz = BinaryPrimitives.ReadUInt64LittleEndian(ph[32..]);
            ulong memsz = BinaryPrimitives.ReadUInt64LittleEndian(ph[40..]);
            int probe = (int)Math.Min(filesz, 4096);
            Assert.That(memory.GetSpan(new GuestAddress(paddr), probe).ToArray(), Is.EqualTo(file[(int)offset..((int)offset + probe)]), $"segment {i}");
            if (memsz > filesz)
                Assert.That(memory.GetSpan(new GuestAddress(paddr + filesz), (int)Math.Min(memsz - filesz, 4096)).ContainsAnyExcept((byte)0), Is.False, $"segment {i} bss");
        }
        Assert.That(loads, Is.GreaterThanOrEqualTo(2));
    }

    [Test]
    public void Load_enters_the_cloud_vmlinux_at_e_entry_in_long_mode_when_pvh_is_not_preferred()
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(256 * MiB));
        LoadedKernel k = KernelLoader.Load(memory, new KernelLoadOptions { KernelPath = TestKernel.CloudVmlinux, PreferPvh = false });
        Assert.That(k.Protocol, Is.EqualTo(BootProtocolKind.ElfVmlinux));
        Assert.That(k.Boot, Is.EqualTo(new BootState(BootCpuMode.Linux64, new GuestAddress(0x1000000), new GuestAddress(PcLowMemory.ZeroPage))));
    }

    [Test]
    public void Load_reads_the_cloud_bzImage_into_guest_memory_without_a_managed_copy()
    {
        string path = TestKernel.CloudBzImage;
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(256 * MiB));
        var options = new KernelLoadOptions { KernelPath = path };
        KernelLoader.Load(memory, options); // warm up: JIT and first-use allocations
        long before = GC.GetAllocatedBytesForCurrentThread();
        KernelLoader.Load(memory, options);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        TestContext.Out.WriteLine($"allocated {allocated} bytes loading a {new FileInfo(path).Length}-byte kernel");
        Assert.That(allocated, Is.LessThan(64 * 1024));
    }
}
