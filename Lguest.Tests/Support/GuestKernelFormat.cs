namespace Lguest.Tests.Support;

/// <summary>How a VMM is handed the Debian cloud kernel: both are the same kernel, entered differently.</summary>
public enum GuestKernelFormat
{
    /// <summary>The packaged vmlinuz: the Linux boot protocol, the kernel decompresses itself.</summary>
    BzImage,

    /// <summary>The ELF vmlinux extracted from it (kernels.sh): entered through its PVH note, nothing to decompress.</summary>
    PvhVmlinux,
}
