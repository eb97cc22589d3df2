namespace Lguest.DevLguest;

/// <summary>
/// The /dev/lguest file as the backend uses it: positional writes for requests and positional reads to run
/// the guest, the position being the vCPU number (the 4.x Host takes <c>*off</c> as the cpu id). The real
/// device is <see cref="LguestDeviceFile"/>; the tests put a simulator of the Host here.
/// </summary>
/// <remarks>
/// Results follow the kernel's convention, a byte count or a negative errno, because the run loop's
/// outcomes are errnos (ENOENT: the guest died; ERESTART: it wants a reboot; EINTR: a kick) rather than
/// failures. A plain write() on the device is a write at file position 0, which is never moved, so it is
/// <see cref="Write"/> at offset 0.
/// </remarks>
internal interface ILguestDevice : IDisposable
{
    /// <summary>pwrite(fd, request, offset): the bytes accepted, or -errno.</summary>
    int Write(ReadOnlySpan<byte> request, long offset);

    /// <summary>
    /// pread(fd, buffer, offset): runs vCPU <paramref name="offset"/> until it needs the launcher (or returns
    /// the register an LHREQ_GETREG selected, or the death reason): the bytes read, or -errno.
    /// </summary>
    int Read(Span<byte> buffer, long offset);

    /// <summary>
    /// Makes a <see cref="Read"/> blocked on thread <paramref name="threadId"/> (a kernel thread id) return
    /// -EINTR soon. Safe from any thread; a kick that finds no read in progress may be lost, so callers repeat
    /// it until the read returns.
    /// </summary>
    void Interrupt(int threadId);
}
