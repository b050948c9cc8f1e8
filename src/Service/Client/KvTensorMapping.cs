using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Retrieval.Index.Errors;
using V1 = Retrieval.Service.Protocol;

namespace Retrieval.Service.Client;

/// <summary>Decodes retrieval.v1.Tensor (float32 or float16 little-endian rows) into float32, naming the field on bad input.</summary>
public static class KvTensorMapping
{
    /// <summary>
    /// The tensor's values as float32 (rows x <paramref name="columns"/>); <paramref name="expectedRows"/> &gt;= 0
    /// requires exactly that many rows.
    /// </summary>
    public static float[] ToFloats(V1.Tensor? tensor, int columns, string field, int expectedRows = -1)
    {
        if (tensor is null) Guard.ThrowInvalid($"{field} is required");
        if (!BitConverter.IsLittleEndian) throw new RetrievalException(ErrorKind.Internal, "tensors are little-endian; this server is not");
        int width = tensor!.Type switch
        {
            V1.TensorType.Float32 => sizeof(float),
            V1.TensorType.Float16 => 2,
            _ => ThrowType(tensor.Type, field),
        };
        long rows = tensor.Rows;
        if (rows == 0) Guard.ThrowInvalid($"{field}.rows must be >= 1");
        if (expectedRows >= 0 && rows != expectedRows)
            Guard.ThrowInvalid($"{field}.rows is {rows}, expected {expectedRows}");
        long expectedBytes = rows * columns * width;
        if (tensor.Data.Length != expectedBytes)
            Guard.ThrowInvalid($"{field}.data holds {tensor.Data.Length} bytes, expected rows x head_dim x {width} = {rows} x {columns} x {width} = {expectedBytes}");
        var result = new float[rows * columns];
        var bytes = tensor.Data.Span;
        if (width == sizeof(float)) MemoryMarshal.Cast<byte, float>(bytes).CopyTo(result);
        else TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(bytes), result);
        return result;
    }

    private static int ThrowType(V1.TensorType type, string field)
    {
        Guard.ThrowInvalid($"{field}.type must be TENSOR_TYPE_FLOAT32 or TENSOR_TYPE_FLOAT16, got {type}");
        return 0;
    }

    /// <summary>A float32 tensor of the given rows (for clients and tests).</summary>
    public static V1.Tensor FromFloats(ReadOnlySpan<float> values, int rows) => new()
    {
        Type = V1.TensorType.Float32,
        Rows = (uint)rows,
        Data = ByteString.CopyFrom(MemoryMarshal.AsBytes(values)),
    };

    /// <summary>A float16 tensor of the given rows (for clients and tests).</summary>
    public static V1.Tensor FromFloatsAsHalf(ReadOnlySpan<float> values, int rows)
    {
        var half = new Half[values.Length];
        TensorPrimitives.ConvertToHalf(values, half);
        return new V1.Tensor { Type = V1.TensorType.Float16, Rows = (uint)rows, Data = ByteString.CopyFrom(MemoryMarshal.AsBytes(half.AsSpan())) };
    }
}
