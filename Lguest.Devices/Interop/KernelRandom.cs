using System.Runtime.InteropServices;

namespace Lguest.Devices.Interop;

/// <summary>
/// getrandom(2): the kernel's CSPRNG, read straight into a buffer. RandomNumberGenerator on Linux goes through
/// OpenSSL, whose libraries (libssl, libcrypto: 5 MiB) and configuration the process then loads and initializes on the
/// way to the guest's first instruction (and must before the seccomp filter closes openat); the devices need only
/// the kernel's bytes, as OpenSSL's RAND_bytes gets them.
/// </summary>
internal static partial class KernelRandom
{
    private const int EINTR = 4;

    /// <summary>Fills <paramref name="destination"/> with random bytes; blocks only until the kernel's pool is initialized, once per boot of the host.</summary>
    /// <exception cref="IOException">The kernel refused (no getrandom: Linux before 3.17).</exception>
    public static unsafe void Fill(Span<byte> destination)
    {
        fixed (byte* start = destination)
        {
            int done = 0;
            while (done < destination.Length)
            {
                // A read of more than 256 bytes may be cut short by a signal: go on from where it stopped.
                nint got = GetRandom(start + done, (nuint)(destination.Length - done), 0);
                if (got > 0)
                {
                    done += (int)got;
                    continue;
                }
                int errno = Marshal.GetLastPInvokeError();
                if (got < 0 && errno == EINTR)
                    continue;
                throw new IOException($"getrandom: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "getrandom", SetLastError = true)]
    private static unsafe partial nint GetRandom(byte* buffer, nuint length, uint flags);
}
