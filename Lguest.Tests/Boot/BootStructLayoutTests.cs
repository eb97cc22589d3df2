using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lguest.Boot;

namespace Lguest.Tests.Boot;

/// <summary>Sizes and offsets against arch/x86/include/uapi/asm/bootparam.h and Xen's start_info.h.</summary>
public class BootStructLayoutTests
{
    [Test]
    public void Structs_have_the_sizes_of_their_C_counterparts()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Unsafe.SizeOf<SetupHeader>(), Is.EqualTo(0x7b), "struct setup_header");
            Assert.That(Unsafe.SizeOf<BootParams>(), Is.EqualTo(4096), "struct boot_params");
            Assert.That(Unsafe.SizeOf<E820Entry>(), Is.EqualTo(20), "struct boot_e820_entry");
            Assert.That(Unsafe.SizeOf<E820Table>(), Is.EqualTo(128 * 20), "e820_table[E820_MAX_ENTRIES_ZEROPAGE]");
            Assert.That(Unsafe.SizeOf<HvmStartInfo>(), Is.EqualTo(56), "struct hvm_start_info");
            Assert.That(Unsafe.SizeOf<HvmMemmapEntry>(), Is.EqualTo(24), "struct hvm_memmap_table_entry");
            Assert.That(Unsafe.SizeOf<HvmModlistEntry>(), Is.EqualTo(32), "struct hvm_modlist_entry");
        });
    }

    // Absolute zero-page offsets from bootparam.h / boot.rst.
    [TestCase(nameof(SetupHeader.SetupSects), 0x1f1)]
    [TestCase(nameof(SetupHeader.RootFlags), 0x1f2)]
    [TestCase(nameof(SetupHeader.SysSize), 0x1f4)]
    [TestCase(nameof(SetupHeader.RamSize), 0x1f8)]
    [TestCase(nameof(SetupHeader.VidMode), 0x1fa)]
    [TestCase(nameof(SetupHeader.RootDev), 0x1fc)]
    [TestCase(nameof(SetupHeader.BootFlag), 0x1fe)]
    [TestCase(nameof(SetupHeader.Jump), 0x200)]
    [TestCase(nameof(SetupHeader.Header), 0x202)]
    [TestCase(nameof(SetupHeader.Version), 0x206)]
    [TestCase(nameof(SetupHeader.RealmodeSwtch), 0x208)]
    [TestCase(nameof(SetupHeader.StartSysSeg), 0x20c)]
    [TestCase(nameof(SetupHeader.KernelVersion), 0x20e)]
    [TestCase(nameof(SetupHeader.TypeOfLoader), 0x210)]
    [TestCase(nameof(SetupHeader.LoadFlags), 0x211)]
    [TestCase(nameof(SetupHeader.SetupMoveSize), 0x212)]
    [TestCase(nameof(SetupHeader.Code32Start), 0x214)]
    [TestCase(nameof(SetupHeader.RamdiskImage), 0x218)]
    [TestCase(nameof(SetupHeader.RamdiskSize), 0x21c)]
    [TestCase(nameof(SetupHeader.BootsectKludge), 0x220)]
    [TestCase(nameof(SetupHeader.HeapEndPtr), 0x224)]
    [TestCase(nameof(SetupHeader.ExtLoaderVer), 0x226)]
    [TestCase(nameof(SetupHeader.ExtLoaderType), 0x227)]
    [TestCase(nameof(SetupHeader.CmdLinePtr), 0x228)]
    [TestCase(nameof(SetupHeader.InitrdAddrMax), 0x22c)]
    [TestCase(nameof(SetupHeader.KernelAlignment), 0x230)]
    [TestCase(nameof(SetupHeader.RelocatableKernel), 0x234)]
    [TestCase(nameof(SetupHeader.MinAlignment), 0x235)]
    [TestCase(nameof(SetupHeader.XLoadFlags), 0x236)]
    [TestCase(nameof(SetupHeader.CmdlineSize), 0x238)]
    [TestCase(nameof(SetupHeader.HardwareSubarch), 0x23c)]
    [TestCase(nameof(SetupHeader.HardwareSubarchData), 0x240)]
    [TestCase(nameof(SetupHeader.PayloadOffset), 0x248)]
    [TestCase(nameof(SetupHeader.PayloadLength), 0x24c)]
    [TestCase(nameof(SetupHeader.SetupData), 0x250)]
    [TestCase(nameof(SetupHeader.PrefAddress), 0x258)]
    [TestCase(nameof(SetupHeader.InitSize), 0x260)]
    [TestCase(nameof(SetupHeader.HandoverOffset), 0x264)]
    [TestCase(nameof(SetupHeader.KernelInfoOffset), 0x268)]
    public void Setup_header_fields_sit_at_their_zero_page_offsets(string field, int offset) =>
        Assert.That(SetupHeader.OffsetInImage + (int)Marshal.OffsetOf<SetupHeader>(field), Is.EqualTo(offset));

    [Test]
    public void Boot_params_fields_sit_at_their_offsets()
    {
        var bp = new BootParams();
        int[] offsets =
        [
            Offset(ref bp, ref bp.TbootAddr), Offset(ref bp, ref bp.AcpiRsdpAddr), Offset(ref bp, ref bp.ExtRamdiskImage),
            Offset(ref bp, ref bp.ExtRamdiskSize), Offset(ref bp, ref bp.ExtCmdLinePtr), Offset(ref bp, ref bp.AltMemK),
            Offset(ref bp, ref bp.E820Entries), Offset(ref bp, ref bp.Sentinel), Offset(ref bp, ref bp.Hdr),
            Offset(ref bp, ref bp.E820Table[0]), Offset(ref bp, ref bp.E820Table[127]),
        ];
        Assert.That(offsets, Is.EqualTo(new[] { 0x058, 0x070, 0x0c0, 0x0c4, 0x0c8, 0x1e0, 0x1e8, 0x1ef, 0x1f1, 0x2d0, 0x2d0 + 127 * 20 }));
    }

    private static int Offset<T>(ref BootParams bp, ref T field) =>
        (int)Unsafe.ByteOffset(ref Unsafe.As<BootParams, byte>(ref bp), ref Unsafe.As<T, byte>(ref field));

    [Test]
    public void E820_entries_are_packed_address_size_type()
    {
        var entry = new E820Entry(0x1122334455667788, 0x99aabbccddeeff00, E820Type.Reserved);
        byte[] bytes = MemoryMarshal.AsBytes(new ReadOnlySpan<E820Entry>(in entry)).ToArray();
        Assert.That(bytes, Is.EqualTo(new byte[]
        {
            0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
            0x00, 0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99,
            2, 0, 0, 0,
        }));
    }

    [TestCase(nameof(HvmStartInfo.Magic), 0x00)]
    [TestCase(nameof(HvmStartInfo.Version), 0x04)]
    [TestCase(nameof(HvmStartInfo.Flags), 0x08)]
    [TestCase(nameof(HvmStartInfo.NrModules), 0x0c)]
    [TestCase(nameof(HvmStartInfo.ModlistPaddr), 0x10)]
    [TestCase(nameof(HvmStartInfo.CmdlinePaddr), 0x18)]
    [TestCase(nameof(HvmStartInfo.RsdpPaddr), 0x20)]
    [TestCase(nameof(HvmStartInfo.MemmapPaddr), 0x28)]
    [TestCase(nameof(HvmStartInfo.MemmapEntries), 0x30)]
    [TestCase(nameof(HvmStartInfo.Reserved), 0x34)]
    public void Hvm_start_info_fields_sit_at_their_offsets(string field, int offset) =>
        Assert.That((int)Marshal.OffsetOf<HvmStartInfo>(field), Is.EqualTo(offset));

    [Test]
    public void Hvm_memmap_and_modlist_entries_lay_out_as_in_start_info_h()
    {
        Assert.Multiple(() =>
        {
            Assert.That((int)Marshal.OffsetOf<HvmMemmapEntry>(nameof(HvmMemmapEntry.Addr)), Is.EqualTo(0));
            Assert.That((int)Marshal.OffsetOf<HvmMemmapEntry>(nameof(HvmMemmapEntry.Length)), Is.EqualTo(8));
            Assert.That((int)Marshal.OffsetOf<HvmMemmapEntry>(nameof(HvmMemmapEntry.Type)), Is.EqualTo(16));
            Assert.That((int)Marshal.OffsetOf<HvmMemmapEntry>(nameof(HvmMemmapEntry.Reserved)), Is.EqualTo(20));
            Assert.That((int)Marshal.OffsetOf<HvmModlistEntry>(nameof(HvmModlistEntry.Paddr)), Is.EqualTo(0));
            Assert.That((int)Marshal.OffsetOf<HvmModlistEntry>(nameof(HvmModlistEntry.Length)), Is.EqualTo(8));
            Assert.That((int)Marshal.OffsetOf<HvmModlistEntry>(nameof(HvmModlistEntry.CmdlinePaddr)), Is.EqualTo(16));
            Assert.That((int)Marshal.OffsetOf<HvmModlistEntry>(nameof(HvmModlistEntry.Reserved)), Is.EqualTo(24));
        });
    }
}
