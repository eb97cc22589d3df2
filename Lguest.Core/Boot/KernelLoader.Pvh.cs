using Lguest.Memory;

namespace Lguest.Boot;

// PVH direct boot (xen/include/public/arch-x86/hvm/start_info.h, as QEMU and Firecracker use it on
// KVM): the kernel's 32-bit PVH entry is handed hvm_start_info in EBX, with the memory map and the
// initrd's module entry right after the structure.
public static partial class KernelLoader
{
    /// <summary>Bytes of the start info block: the structure, the memory map, then the module list when there is an initrd.</summary>
    private static ulong StartInfoLength(int mapEntries, bool withInitrd) =>
        HvmStartInfo.Size + (ulong)mapEntries * HvmMemmapEntry.Size + (withInitrd ? (ulong)HvmModlistEntry.Size : 0);

    private static void WriteStartInfo(GuestMemory memory, GuestAddress at, GuestAddress commandLine, GuestAddress? acpiRsdp,
        IReadOnlyList<E820Entry> map, GuestAddress? initrd, ulong initrdSize)
    {
        var memmap = new GuestAddress(at.Value + HvmStartInfo.Size);
        var modlist = new GuestAddress(memmap.Value + (ulong)map.Count * HvmMemmapEntry.Size);
        var info = new HvmStartInfo
        {
            Magic = HvmStartInfo.MagicValue,
            Version = HvmStartInfo.CurrentVersion,
            CmdlinePaddr = commandLine.Value,
            RsdpPaddr = acpiRsdp?.Value ?? 0,
            MemmapPaddr = memmap.Value,
            MemmapEntries = (uint)map.Count,
        };
        for (int i = 0; i < map.Count; i++)
        {
            memory.Write(new GuestAddress(memmap.Value + (ulong)i * HvmMemmapEntry.Size),
                new HvmMemmapEntry { Addr = map[i].Address, Length = map[i].Length, Type = map[i].Type });
        }
        if (initrd is { } initrdAt)
        {
            info.NrModules = 1;
            info.ModlistPaddr = modlist.Value;
            memory.Write(modlist, new HvmModlistEntry { Paddr = initrdAt.Value, Length = initrdSize });
        }
        memory.Write(at, info);
    }
}
