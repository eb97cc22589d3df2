namespace Lguest.Devices;

/// <summary>
/// The one line a host program sends on the hybrid vsock's Unix socket before the stream starts, as
/// Firecracker's docs/vsock.md specifies: <c>CONNECT &lt;port&gt;\n</c>, the port in decimal. Parsed from the bytes
/// the program sent, which are not trusted either (any local user with access to the socket).
/// </summary>
internal static class VsockConnectLine
{
    /// <summary>
    /// The longest line accepted, newline included: "CONNECT " plus the ten digits of 4294967295 plus '\n' is 19;
    /// a little slack for leading zeros. The reader stops at this many bytes.
    /// </summary>
    public const int MaxLength = 32;

    private static ReadOnlySpan<byte> Command => "CONNECT "u8;

    /// <summary>
    /// Parses one line (its bytes up to and including the '\n'). Accepts "CONNECT" in either case (Firecracker
    /// does), one space, 1-10 decimal digits of a port below 2^32 - 1 (VMADDR_PORT_ANY is no port), then '\n';
    /// nothing else.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> line, out uint port, out string? error)
    {
        port = 0;
        error = null;
        if (line.Length > MaxLength || line.IsEmpty || line[^1] != (byte)'\n')
        {
            error = $"not a line of at most {MaxLength} bytes";
            return false;
        }
        if (line.Length < Command.Length + 2 || !IsCommand(line[..Command.Length]))
        {
            error = "not CONNECT <port>";
            return false;
        }
        ReadOnlySpan<byte> digits = line[Command.Length..^1];
        if (digits.Length > 10)
        {
            error = "the port has more than 10 digits";
            return false;
        }
        ulong value = 0;
        foreach (byte digit in digits)
        {
            if (digit is < (byte)'0' or > (byte)'9')
            {
                error = "the port is not a decimal number";
                return false;
            }
            value = value * 10 + (ulong)(digit - '0');
        }
        if (value >= uint.MaxValue)
        {
            error = $"port {value} is out of range";
            return false;
        }
        port = (uint)value;
        return true;
    }

    private static bool IsCommand(ReadOnlySpan<byte> word)
    {
        for (int i = 0; i < Command.Length; i++)
        {
            byte c = word[i];
            if (c is >= (byte)'a' and <= (byte)'z')
                c = (byte)(c - ('a' - 'A'));
            if (c != Command[i])
                return false;
        }
        return true;
    }
}
